"""What a handler logs while it runs, kept on its execution (``Execution.log``).

Handlers of one instant share a worker process and run on threads of its pool, so capture cannot be
a handler added to a logger for the time of one execution: it would catch the logs of every
handler running beside it. Instead one ``RoutingHandler`` sits on the root logger of a worker
process for good, and each record goes to the capture of the execution running on the thread that
logged it (a context variable, set around the handler's call). Records logged outside an
execution, or on a thread the handler started itself, are not captured.

``HANDLER_LOG_LEVEL`` (default ``INFO``) is the lowest level captured. Python drops a record below its
logger's effective level before any handler sees it, and most loggers inherit the root's (``WARNING``
by default), so when the project's logging lets less through, the root logger is lowered to that
level. What the project's logging writes stays as it was: each handler of its loggers gets a filter
that passes only what it passed before (``_AsBefore``), and a record that meets no handler still goes
to ``logging.lastResort``. What does change: ``logging.getLogger().level``, and a handler added to a
logger after the first capture sees the lower level. ``None`` captures only what the project's
logging already lets through and changes nothing.

A capture keeps at most ``HANDLER_LOG_LIMIT`` bytes (UTF-8) and ends with a note saying how much
was cut.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django_scheduler_api.conf import scheduler_settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_current: ContextVar[Capture | None] = ContextVar("django_scheduler_api_handler_log", default=None)
_install_lock = threading.Lock()


class Capture:
    """The log of one execution, bounded to ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._parts: list[str] = []
        self._size = 0
        self.dropped = 0  # bytes not kept

    def write(self, text: str) -> None:
        """Keep ``text`` while there is room; from the first line that does not fit, keep what fits
        of it (whole characters) and nothing after it, so the log has no gap."""
        data = text.encode("utf-8", "replace")
        room = self.limit - self._size
        if not self.dropped and len(data) <= room:
            self._parts.append(text)
            self._size += len(data)
            return
        kept = data[: max(room, 0)].decode("utf-8", "ignore") if not self.dropped else ""
        self._parts.append(kept)
        self._size += len(kept.encode())
        self.dropped += len(data) - len(kept.encode())

    @property
    def text(self) -> str:
        body = "".join(self._parts)
        if self.dropped:
            body += f"\n[log cut at {self.limit} bytes: {self.dropped} more bytes were not kept]\n"
        return body


class RoutingHandler(logging.Handler):
    """Hands each record to the capture of the execution running in the logging context.

    Being on the root logger, it is a handler every record meets: Python's ``logging.lastResort``
    (which prints ``WARNING`` and above to stderr when a record meets no handler at all) would never
    fire again. So a record that meets no other handler goes to ``lastResort`` from here, as it did.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if logging.lastResort is not None and record.levelno >= logging.lastResort.level:
            if not _meets_another_handler(record, self):
                logging.lastResort.handle(record)
        capture = _current.get()
        if capture is None:
            return
        try:
            capture.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def _meets_another_handler(record: logging.LogRecord, router: logging.Handler) -> bool:
    """Whether the record's logger or an ancestor it propagates to has a handler besides ``router``
    (Python's own test before it falls back to ``lastResort``)."""
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        if any(handler is not router for handler in logger.handlers):
            return True
        logger = logger.parent if logger.propagate else None
    return False


class _AsBefore(logging.Filter):
    """Put on the project's handlers when the root logger is lowered: lets a record through only if
    it would have been logged before, that is at the root's former level or above, or from a logger
    whose own level (or an ancestor's below the root) lets it through, which lowering did not change."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.level:
            return True
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None and logger is not logging.root:
            if logger.level:
                return True  # its own level decided, as before
            logger = logger.parent
        return False


_router: RoutingHandler | None = None


def install() -> RoutingHandler:
    """Put the routing handler on the root logger (once per process)."""
    global _router
    if _router is not None:  # the common case, without the lock
        return _router
    with _install_lock:
        if _router is not None:
            return _router
        root = logging.getLogger()
        router = RoutingHandler()
        router.setFormatter(logging.Formatter(FORMAT))
        wanted = scheduler_settings.HANDLER_LOG_LEVEL
        if wanted is not None:
            level = logging.getLevelName(wanted) if isinstance(wanted, str) else int(wanted)
            router.setLevel(level)
            before = root.getEffectiveLevel()
            if before > level:
                _keep_output_as_before(before)
                root.setLevel(level)
        root.addHandler(router)
        _router = router
        return router


def _keep_output_as_before(level: int) -> None:
    """Filter every handler of the project's loggers (``_AsBefore``) before the root is lowered
    to ``HANDLER_LOG_LEVEL``, so that they write what they wrote before."""
    known = logging.root.manager.loggerDict.values()
    loggers = [logging.root, *(logger for logger in known if isinstance(logger, logging.Logger))]
    for handler in {handler for logger in loggers for handler in logger.handlers}:
        handler.addFilter(_AsBefore(level))


@contextmanager
def capturing() -> Iterator[Capture]:
    """Capture what is logged in this context (this thread) until the block ends."""
    install()
    capture = Capture(int(scheduler_settings.HANDLER_LOG_LIMIT))
    token = _current.set(capture)
    try:
        yield capture
    finally:
        _current.reset(token)
