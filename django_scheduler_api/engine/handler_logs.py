"""What a handler logs while it runs, kept on its execution (``Execution.log``).

Handlers of one instant share a worker process and run on threads of its pool, so capture cannot be
a handler added to a logger for the time of one execution: it would catch the logs of every
handler running beside it. Instead one ``RoutingHandler`` sits on the root logger of a worker
process for good, and each record goes to the capture of the execution running on the thread that
logged it (a context variable, set around the handler's call). Records logged outside an
execution, or on a thread the handler started itself, are not captured.

``HANDLER_LOG_LEVEL`` (default ``INFO``) is the lowest level captured. When the project's logging
lets less through (Python's default root level is ``WARNING``), the root logger is lowered to it
and the root's other handlers get a filter that keeps their output as it was; loggers with a level
of their own keep it. ``None`` captures only what the project's logging already lets through.

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
    """Hands each record to the capture of the execution running in the logging context."""

    def emit(self, record: logging.LogRecord) -> None:
        capture = _current.get()
        if capture is None:
            return
        try:
            capture.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


class _AtLeast(logging.Filter):
    """Keeps a root handler's output as it was before the root logger was lowered."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level


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
            if root.getEffectiveLevel() > level:
                for handler in root.handlers:
                    handler.addFilter(_AtLeast(root.getEffectiveLevel()))
                root.setLevel(level)
        root.addHandler(router)
        _router = router
        return router


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
