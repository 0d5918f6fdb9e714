"""Waking sleeping schedulers when jobs change: PostgreSQL's LISTEN/NOTIFY.

A scheduler sleeps until the earliest next fire, at most ``MAX_SLEEP`` seconds. A job created,
changed or resumed through the API, the admin or the CLI would otherwise wait for that sleep to end.
On PostgreSQL such a change sends a ``NOTIFY`` (delivered when its transaction commits, never for one
rolled back), and every scheduler listening wakes at once. Other databases have nothing like it;
there ``MAX_SLEEP`` bounds the delay. ``LISTEN_NOTIFY = False`` turns it off.
"""

from __future__ import annotations

import logging
import threading

from django.db import connection

from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.engine import errors

logger = logging.getLogger(__name__)

CHANNEL = "django_scheduler_api_jobs"
# How often the listening thread looks at its stop flag.
POLL = 0.5


def enabled() -> bool:
    return connection.vendor == "postgresql" and bool(scheduler_settings.LISTEN_NOTIFY)


def notify_jobs_changed() -> None:
    """Tell listening schedulers that jobs changed (at commit of the current transaction)."""
    if enabled():
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {CHANNEL}")


class Listener:
    """A thread that listens on a connection of its own and sets ``wake`` at each notification."""

    def __init__(self, wake: threading.Event) -> None:
        self.wake = wake
        self.listening = threading.Event()  # set once LISTEN has been executed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start listening if the database can; False when it cannot (then nothing runs)."""
        if not enabled():
            return False
        params = connection.get_connection_params()
        self._thread = threading.Thread(target=self._run, args=(params,), name="wakeup", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(POLL * 4)

    def _run(self, params: dict) -> None:
        """Listen until stopped. A lost connection (or any other error: this thread must not die
        while the scheduler lives) is logged and the thread connects again after a back-off that
        doubles up to ``errors.BACKOFF_MAX``; the loop's ``MAX_SLEEP`` covers the time in between."""
        import psycopg  # only here: LISTEN/NOTIFY is PostgreSQL's, and psycopg an optional dependency

        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(**params) as conn:
                    conn.autocommit = True
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    failures = 0
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=POLL, stop_after=1):
                            self.wake.set()
            except Exception as exc:
                self.listening.clear()
                failures += 1
                if isinstance(exc, psycopg.Error | OSError):
                    logger.warning("Scheduler: lost the LISTEN connection (%s); reconnecting.", exc)
                else:
                    logger.exception("Scheduler: the LISTEN thread failed; starting it again.")
                self._stop.wait(errors.backoff(failures))
