"""Several handlers at once on one django-q2 worker: the worker's pool of handler threads.

A task carrying the fires of one instant starts their handlers together, as Quartz's and
APScheduler's thread pools run jobs: ``TASK_BATCH_SIZE`` at once, and the rest of a crowd's larger
task as threads free up. The pool belongs to the worker process. It is made, and the
garbage collector settled, at the worker's first scheduler task (``warm_up``): a django-q2 worker of
the host project that never runs one gets neither threads nor a frozen heap. The first task arrives
ahead of its instant (``Scheduler.lead``), and warming up takes a few milliseconds, so its handlers still
start on time. The pool is made again in a process that inherited another's (after a fork).

Outcomes are written by the task's own thread, in batches (``run_together``): nothing before every
handler of the task has started, then at the end of each ``RECORD_INTERVAL`` the outcomes of the
handlers that finished within it, in one statement, or at once when none is left running. So a
finished execution shows ``running`` for at most that long, a task writes at most one statement per
interval, and short handlers (the usual case) share one. Each handler's finish time is taken on its
own thread, so a later write records the same times.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

from django.db import close_old_connections

from django_scheduler_api.conf import scheduler_settings

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

# How long a task waits for its handlers' threads to start (at once unless the machine is starved).
ALL_STARTED_WAIT = 1.0
# How long a finished handler's outcome may wait to share a write with others (see above). Far above
# the spread of an instant's handler starts (p99 under 10 ms in BENCHMARKS.md), so the writes of one
# task do not slow the starts of the others' handlers, and far below what a person notices.
RECORD_INTERVAL = 0.05

_pool: ThreadPoolExecutor | None = None
_pool_owner: tuple[int, int] = (0, 0)  # (pid, size)
_warm_pid = 0  # the process that has warmed up


def threads() -> ThreadPoolExecutor:
    """This process's handler threads: ``TASK_BATCH_SIZE`` of them (made again if it changed)."""
    global _pool, _pool_owner
    size = pool_size()
    pid = os.getpid()
    if _pool is None or _pool_owner != (pid, size):
        if _pool is not None and _pool_owner[0] == pid:
            _pool.shutdown(wait=False)
        _pool, _pool_owner = ThreadPoolExecutor(size, thread_name_prefix="scheduler-handler"), (pid, size)
    return _pool


def pool_size() -> int:
    """How many handlers a worker runs at once: ``TASK_BATCH_SIZE``. A task carrying more (a crowd of
    fires, ``dispatch.task_size``) runs the others as threads free up; a pool per task size would
    grow a worker's threads, and their database connections, with the crowd."""
    return max(1, int(scheduler_settings.TASK_BATCH_SIZE))


def warm_up() -> None:
    """At a worker's first scheduler task: settle the garbage collector, start the handler threads.

    Only in a worker process of its own: with django-q2's ``sync`` option a task runs in the process
    that sends it (a web server, a test), whose heap and threads are not the scheduler's to change.
    Once per process.
    """
    global _warm_pid
    if _warm_pid == os.getpid() or multiprocessing.parent_process() is None:
        return
    _warm_pid = os.getpid()
    _settle_garbage_collector()
    _start_threads()


def _start_threads() -> None:
    """Start all of this process's handler threads now.

    A pool starts a thread only when no idle one is left, so the threads are started by tasks that
    all wait for one another.
    """
    size = pool_size()
    if size == 1:
        return
    pool = threads()
    everyone = threading.Barrier(size + 1)
    for _ in range(size):
        pool.submit(everyone.wait, ALL_STARTED_WAIT)
    try:
        everyone.wait(ALL_STARTED_WAIT)
    except threading.BrokenBarrierError:
        pass  # a starved machine: the threads left out start with the first task


def _settle_garbage_collector() -> None:
    """Exempt what the worker holds now (the whole of Django) from later collections.

    A worker starts with the whole of Django in its heap; the first full collection would scan all
    of it, a pause of 100-200 ms that lands on whichever fire comes first (seen as exactly that in
    the fire-lag benchmark). ``gc.freeze`` moves every object alive to a permanent generation that
    collections skip, at no cost of its own; it is not preceded by a collection, which would be
    that very pause (the garbage frozen with the rest is what one worker made before its first task,
    as CPython's documentation of ``gc.freeze`` accepts for forked servers).
    """
    gc.freeze()


def run_together(
    items: list[Item],
    call: Callable[[Item], Outcome],
    record: Callable[[list[tuple[Item, Outcome]]], None],
    stopped: Callable[[BaseException], Outcome],
    *,
    start_at: float | None = None,
) -> None:
    """``call`` each item on a thread of the pool, as many at once as it has threads (at
    ``start_at``, Unix time, if it is ahead), the others as threads free up; ``record`` the
    outcomes in batches, one per ``RECORD_INTERVAL`` at most (see the module's docstring).

    If this thread is interrupted (django-q2's timeout raises in it), the items not started are
    cancelled, and those not finished are recorded with ``stopped(exc)`` before the exception goes
    on: the worker is about to be replaced, and nothing it was running may stay ``running``.
    """
    pool = threads()
    starts = _Countdown(min(len(items), pool_size()))  # the first round; the others as threads free up
    futures: dict[Future, Item] = {
        pool.submit(_on_thread, call, item, starts, start_at): item for item in items
    }
    pending = set(futures)
    try:
        wait_until(start_at)
        starts.wait(ALL_STARTED_WAIT)
        while pending:
            done, pending = wait(pending, timeout=RECORD_INTERVAL)  # all done, or the interval over
            if done:
                record([(futures[future], future.result()) for future in done])
    except BaseException as exc:
        for future in pending:
            future.cancel()  # not started: never will be
        record([(futures[f], f.result() if f.done() else stopped(exc)) for f in pending])
        raise


def _on_thread(
    call: Callable[[Item], Outcome], item: Item, starts: _Countdown, start_at: float | None
) -> Outcome:
    """One handler on a pool thread; database connections it opens follow Django's lifetime rules.

    Each thread waits for the fire instant itself, so that all wake together rather than one after
    another as a dispatching thread would hand them work.
    """
    close_old_connections()
    try:
        wait_until(start_at)
        starts.done()
        return call(item)
    finally:
        close_old_connections()


def wait_until(start_at: float | None) -> None:
    """Sleep until ``start_at`` (Unix time) if it is ahead; never start a handler early."""
    if start_at is not None:
        time.sleep(max(0.0, start_at - time.time()))


class _Countdown:
    """Wakes the waiter once, when ``count`` threads have called ``done`` (not once per thread)."""

    def __init__(self, count: int) -> None:
        self._left = count
        self._lock = threading.Lock()
        self._zero = threading.Event()

    def done(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left <= 0:
                self._zero.set()

    def wait(self, timeout: float) -> None:
        self._zero.wait(timeout)
