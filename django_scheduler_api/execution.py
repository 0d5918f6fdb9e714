"""Running executions on a django-q2 worker, and sending executions to the workers.

One django-q2 task carries the executions of one or more fires (the scheduler packs the fires of an
instant into a few tasks, see ``engine.dispatch``). The task is idempotent: it runs a handler only if
it moves the execution from ``queued`` to ``running`` itself, in one conditional UPDATE for the whole
task. So a task delivered twice (an outbox re-send, a broker retry) or an execution cancelled meanwhile
never runs a handler twice or at all. Whatever a handler does, raises or returns, the worker survives
and the execution records the outcome.

A task of one execution runs its handler on the worker's own thread, as any django-q2 task. A task of
several starts them together, each on a thread of a pool the worker keeps (as Quartz and APScheduler
run jobs), and records each outcome as it comes; a slow handler delays no other's start.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import traceback as tb
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.context import JobContext
from django_scheduler_api.models import Execution
from django_scheduler_api.registry import registry

logger = logging.getLogger(__name__)

TASK = "django_scheduler_api.execution.run_executions"
NOT_QUEUED = "not-queued"
# The columns an outcome writes, and how long a task waits for its handlers' threads to start before
# it records outcomes anyway (they start at once unless the machine is starved).
OUTCOME_FIELDS = ("status", "finished_at", "duration_ms", "result", "error", "traceback")
ALL_STARTED_WAIT = 1.0


def enqueue(executions: Iterable[Execution]) -> int:
    """Send executions to django-q2 and mark them enqueued (their outbox entries are then done)."""
    from django_scheduler_api.engine.dispatch import send

    return send(list(executions))


def enqueue_on_commit(executions: list[Execution]) -> None:
    """Enqueue after the surrounding transaction commits: a worker must find the rows it is given."""
    transaction.on_commit(lambda: enqueue(executions))


def run_executions(execution_ids: list[str]) -> dict[str, str]:
    """The django-q2 task: run the handlers of these executions, each exactly once, and record the
    outcomes. Returns each execution's final status (``not-queued`` for one it did not run)."""
    outcomes = dict.fromkeys(map(str, execution_ids), NOT_QUEUED)
    executions = _claim(execution_ids, timezone.now())
    if len(executions) < len(outcomes):
        logger.info(
            "%d of %d executions are not queued any more; not running them.",
            len(outcomes) - len(executions),
            len(outcomes),
        )
    if len(executions) == 1:
        outcomes[str(executions[0].pk)] = _record(executions[0], _call_handler(executions[0]))
    elif executions:
        outcomes.update(_run_together(executions))
    return outcomes


def run_execution(execution_id: str) -> str:
    """Run one execution (a task of one); its final status, or ``not-queued``."""
    return run_executions([execution_id])[str(execution_id)]


def _claim(execution_ids: list[str], started: datetime) -> list[Execution]:
    """Move the queued ones of these executions to running and return them, in one statement where
    the database returns rows from an UPDATE (PostgreSQL, SQLite 3.35+), else one UPDATE each."""
    pk = Execution._meta.pk
    keys = [pk.to_python(value) for value in execution_ids]
    if not _can_update_returning():
        claimed = [key for key in keys if _claim_one(key, started)]
        return list(Execution.objects.filter(pk__in=claimed))
    table = connection.ops.quote_name(Execution._meta.db_table)
    placeholders = ", ".join(["%s"] * len(keys))
    params = [
        Execution.Status.RUNNING,
        Execution._meta.get_field("started_at").get_db_prep_value(started, connection),
        *(pk.get_db_prep_value(key, connection) for key in keys),
        Execution.Status.QUEUED,
    ]
    where = f"id IN ({placeholders}) AND status = %s"
    if connection.features.has_select_for_update:
        # Lock in id order, as the scheduler's ``store.mark_sent`` does: two statements locking the
        # same rows in different orders would deadlock.
        where = f"id IN (SELECT id FROM {table} WHERE {where} ORDER BY id FOR UPDATE)"
    sql = f"UPDATE {table} SET status = %s, started_at = %s WHERE {where} RETURNING *"
    return list(Execution.objects.raw(sql, params))


def _can_update_returning() -> bool:
    """PostgreSQL and SQLite 3.35+ return rows from an UPDATE (MySQL and MariaDB do not)."""
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and connection.features.can_return_columns_from_insert


def _claim_one(key: Any, started: datetime) -> bool:
    queued = Execution.objects.filter(pk=key, status=Execution.Status.QUEUED)
    return bool(queued.update(status=Execution.Status.RUNNING, started_at=started))


# -- several handlers at once ------------------------------------------------------------------------

_pool: ThreadPoolExecutor | None = None
_pool_owner: tuple[int, int] = (0, 0)  # (pid, size): a forked worker or a larger task needs a new pool


def _threads(size: int) -> ThreadPoolExecutor:
    """This process's handler threads, at least ``size`` of them (threads start only when needed)."""
    global _pool, _pool_owner
    size = max(size, scheduler_settings.TASK_BATCH_SIZE)
    pid = os.getpid()
    if _pool is None or _pool_owner[0] != pid or _pool_owner[1] < size:
        if _pool is not None and _pool_owner[0] == pid:
            _pool.shutdown(wait=False)
        _pool, _pool_owner = ThreadPoolExecutor(size, thread_name_prefix="scheduler-handler"), (pid, size)
    return _pool


def _run_together(executions: list[Execution]) -> dict[str, str]:
    """Start every handler at once; record the outcomes, many to a statement, once all have started.

    Recording waits for the starts because it holds the GIL for the ORM's work: interleaved with the
    starts, it would delay the last handlers of the task. If the task itself is stopped (django-q2's
    timeout raises in this thread), the executions still running are recorded as failed before the
    worker goes: none is left ``running`` for a dead worker.
    """
    pool = _threads(len(executions))
    starts = _Countdown(len(executions))
    futures: dict[Future, Execution] = {pool.submit(_call_on_thread, e, starts): e for e in executions}
    outcomes: dict[str, str] = {}
    pending = set(futures)
    try:
        starts.wait(ALL_STARTED_WAIT)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            outcomes.update(_record_many([(futures[future], future.result()) for future in done]))
    except BaseException as exc:
        outcomes.update(_record_many([(futures[future], _stopped(exc)) for future in pending]))
        raise
    return outcomes


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


def _call_on_thread(execution: Execution, starts: _Countdown) -> dict[str, Any]:
    """A handler on a pool thread; the database connections it opens follow Django's lifetime rules."""
    close_old_connections()
    try:
        starts.done()
        return _call_handler(execution)
    finally:
        close_old_connections()


def _stopped(exc: BaseException) -> dict[str, Any]:
    return {
        "status": Execution.Status.FAILED,
        "error": f"The task stopped before the handler finished: {type(exc).__name__}: {exc}",
        "traceback": "".join(tb.format_exception(exc)),
    }


# -- one handler -------------------------------------------------------------------------------------


def _call_handler(execution: Execution) -> dict[str, Any]:
    """Run the handler; turn every way it can end into the fields of a finished execution."""
    try:
        func = registry.get(execution.handler).func
        result = func(_context(execution))
        json.dumps(result)
    except (Exception, SystemExit) as exc:  # a handler must never take the worker down
        logger.exception("Execution %s of job %s failed.", execution.id, execution.job_id)
        return {
            "status": Execution.Status.FAILED,
            "error": _describe_error(exc),
            "traceback": tb.format_exc(),
        }
    return {"status": Execution.Status.SUCCEEDED, "result": result}


def _record(execution: Execution, outcome: dict[str, Any]) -> str:
    """Store a finished execution's outcome (unless something else finished it meanwhile)."""
    return _record_many([(execution, outcome)])[str(execution.pk)]


def _record_many(finished: list[tuple[Execution, dict[str, Any]]]) -> dict[str, str]:
    """Store outcomes: one UPDATE for one, one ``bulk_update`` for many; only rows still running."""
    if not finished:
        return {}
    now = timezone.now()
    running = Execution.objects.filter(status=Execution.Status.RUNNING)
    if len(finished) == 1:
        execution, outcome = finished[0]
        running.filter(pk=execution.pk).update(**_finished_fields(execution, outcome, now))
        return {str(execution.pk): outcome["status"]}
    for execution, outcome in finished:
        for name, value in _finished_fields(execution, outcome, now).items():
            setattr(execution, name, value)
    running.bulk_update([execution for execution, _ in finished], OUTCOME_FIELDS)
    return {str(execution.pk): outcome["status"] for execution, outcome in finished}


def _finished_fields(execution: Execution, outcome: dict[str, Any], now: datetime) -> dict[str, Any]:
    duration = max(0, int((now - execution.started_at).total_seconds() * 1000))
    return {"finished_at": now, "duration_ms": duration, **outcome}


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, TypeError | ValueError) and "JSON serializable" in str(exc):
        return f"The handler's result is not JSON-serialisable: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _context(execution: Execution) -> JobContext:
    """The handler's view of its fire, from the row alone (the scheduler put the neighbours there)."""
    return JobContext(
        job_id=execution.job_id,
        execution_id=str(execution.id),
        trigger=execution.trigger,
        data=dict(execution.data or {}),
        fire_time=execution.fire_time,
        scheduled_fire_time=execution.scheduled_fire_time,
        previous_fire_time=execution.previous_fire_time,
        next_fire_time=execution.next_fire_time,
    )
