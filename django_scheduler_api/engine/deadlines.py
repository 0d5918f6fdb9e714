"""Per-job timeouts: how long a run's handler may take, and what stops it (docs/scheduling.rst,
"Timeouts").

Three layers, from the most precise to the last resort:

1. ``deadline``: the handler of a job with a ``timeout`` runs alone in its task, on the worker's main
   thread, under an interval timer armed when the handler starts. When it rings, ``HandlerTimedOut``
   is raised in the handler; it derives from ``BaseException``, so a handler's ``except Exception``
   does not swallow it. The worker records the execution ``failed`` ("Timed out after N s") and goes
   on with its next task: nothing else shares that task, so no other handler is harmed.
2. django-q2's per-task ``timeout`` (``task_timeout``): the task is sent with the job's timeout plus
   ``TASK_MARGIN``, so django-q2 replaces the worker process if the handler cannot be interrupted
   (stuck in C code that never returns to the interpreter, or catching ``BaseException``).
3. ``store.mark_timed_out``: every scheduler, at each heartbeat, records ``failed`` with the same
   error the executions still ``running`` ``SWEEP_GRACE`` seconds past their deadline: the worker
   that should have recorded them was replaced. Without it they would wait for ``WORKER_TIMEOUT``
   and then be recorded ``lost``.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django_q.conf import Conf

from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.models import MAX_INTERVAL

# Seconds django-q2's per-task timeout adds to the job's: the worker's claim, the wait for the fire
# instant (``LOOKAHEAD``) and the write of the outcome come before and after the handler.
TASK_MARGIN = 5
# Seconds past a run's deadline (and django-q2's replacing its worker) before a scheduler takes over
# and records it timed out: the worker's own record comes first whenever the worker can write it.
SWEEP_GRACE = TASK_MARGIN + 5


class HandlerTimedOut(BaseException):
    """Raised in a handler that outran its job's timeout. A ``BaseException``, as ``SystemExit``
    is, so that a handler's ``except Exception`` lets it through."""

    def __init__(self, seconds: int) -> None:
        super().__init__(timeout_error(seconds))
        self.seconds = seconds


def timeout_error(seconds: int) -> str:
    """The error of an execution stopped by its job's timeout, the same from every layer."""
    return f"Timed out after {seconds} s (the job's timeout); the handler was stopped."


def timeout_limit() -> int:
    """The largest ``timeout`` a job may have: django-q2's cluster ``timeout`` when it has one (a job
    may not run longer than any task of the cluster; django-q2's own rule, ``retry`` above
    ``timeout``, keeps the task from being delivered again meanwhile), and ``EXECUTION_TIMEOUT``,
    after which a running execution is taken for lost."""
    limits = [MAX_INTERVAL, Conf.TIMEOUT, scheduler_settings.EXECUTION_TIMEOUT]
    return min(int(limit) for limit in limits if limit)


def task_timeout(seconds: int) -> int:
    """django-q2's per-task ``timeout`` for a task running one handler of this timeout (layer 2)."""
    return seconds + TASK_MARGIN


@contextmanager
def deadline(seconds: int | None) -> Iterator[None]:
    """Raise ``HandlerTimedOut`` in the body if it runs longer than ``seconds`` (layer 1).

    Only on a process's main thread, where signals are delivered: elsewhere (a task run in-process
    with django-q2's ``sync`` option from a server's request thread) the body runs unbounded, and
    layers 2 and 3 do not apply either. django-q2's alarm for the task, armed before, is put back
    afterwards with what was left of it.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def ring(signum: int, frame: Any) -> None:
        raise HandlerTimedOut(seconds)

    previous = signal.signal(signal.SIGALRM, ring)
    left, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if left:
            signal.setitimer(signal.ITIMER_REAL, max(0.001, left - (time.monotonic() - started)))
