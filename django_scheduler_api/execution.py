"""Running executions on a django-q2 worker, and sending executions to the workers.

One django-q2 task carries the executions of one or more fires (the scheduler packs the fires of an
instant into a few tasks, see ``engine.dispatch``). The task is idempotent: it runs a handler only if
it moves the execution from ``queued`` to ``running`` itself, in one conditional UPDATE for the whole
task. So a task delivered twice (an outbox re-send, a broker retry) or an execution cancelled meanwhile
never runs a handler twice or at all. Whatever a handler does, raises or returns, the worker survives
and the execution records the outcome.

A task of one execution runs its handler on the worker's own thread, as any django-q2 task. A task of
several starts them together, each on a thread of the worker's pool (``handler_threads``), so a slow
handler delays no other's start.
"""

from __future__ import annotations

import json
import logging
import traceback as tb
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import DateTimeField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from django_scheduler_api import handler_threads
from django_scheduler_api.context import JobContext
from django_scheduler_api.models import Execution
from django_scheduler_api.registry import registry

logger = logging.getLogger(__name__)

TASK = "django_scheduler_api.execution.run_executions"
NOT_QUEUED = "not-queued"
# The columns an outcome writes.
OUTCOME_FIELDS = ("status", "finished_at", "duration_ms", "result", "error", "traceback")


def enqueue(executions: Iterable[Execution]) -> int:
    """Send executions to django-q2 and mark them enqueued (their outbox entries are then done)."""
    from django_scheduler_api.engine.dispatch import send

    return send(list(executions))


def enqueue_on_commit(executions: list[Execution]) -> None:
    """Enqueue after the surrounding transaction commits: a worker must find the rows it is given."""
    transaction.on_commit(lambda: enqueue(executions))


def run_executions(execution_ids: list[str], start_at: float | None = None) -> dict[str, str]:
    """The django-q2 task: run the handlers of these executions, each exactly once, and record the
    outcomes. Returns each execution's final status (``not-queued`` for one it did not run).

    ``start_at`` (Unix time) is the fire instant of a task handed over ahead of it (``LOOKAHEAD``):
    the executions are claimed at once and their handlers start at that instant, not before.
    """
    outcomes = dict.fromkeys(map(str, execution_ids), NOT_QUEUED)
    now = timezone.now()
    executions = _claim(execution_ids, _start_time(start_at, now), now)
    if len(executions) < len(outcomes):
        logger.info(
            "%d of %d executions are not queued any more; not running them.",
            len(outcomes) - len(executions),
            len(outcomes),
        )
    if len(executions) == 1:
        handler_threads.wait_until(start_at)
        outcomes[str(executions[0].pk)] = _record(executions[0], _call_handler(executions[0]))
    elif executions:
        record = lambda done: outcomes.update(_record_many(done))  # noqa: E731
        handler_threads.run_together(executions, _call_handler, record, _stopped, start_at=start_at)
    return outcomes


def _start_time(start_at: float | None, now: datetime) -> datetime:
    """When the handlers start: now, or the fire instant if it is still ahead."""
    if start_at is None:
        return now
    return max(now, datetime.fromtimestamp(start_at, tz=UTC))


def run_execution(execution_id: str) -> str:
    """Run one execution (a task of one); its final status, or ``not-queued``."""
    return run_executions([execution_id])[str(execution_id)]


def _claim(execution_ids: list[str], started: datetime, now: datetime) -> list[Execution]:
    """Move the queued ones of these executions to running and return them, in one statement where
    the database returns rows from an UPDATE (PostgreSQL, SQLite 3.35+), else one UPDATE each.

    ``started`` is when the handlers will start (``started_at``), ``now`` the claim. A claimed row is
    evidently sent: its ``enqueued_at`` is set to ``now`` unless the scheduler has marked it (it
    marks at its next pass, and skips rows a worker is claiming rather than wait for them).
    """
    keys = [Execution._meta.pk.to_python(value) for value in execution_ids]
    if _can_update_returning():
        return _claim_returning(keys, started, now)
    claimed = [key for key in keys if _claim_one(key, started, now)]
    return list(Execution.objects.filter(pk__in=claimed))


def _claim_returning(keys: list[Any], started: datetime, now: datetime) -> list[Execution]:
    """The claim as one ``UPDATE ... RETURNING``; rows are locked in id order where the database locks
    rows (two claims, or a claim and another writer, locking shared rows in different orders would
    deadlock)."""
    pk = Execution._meta.pk
    table, column = connection.ops.quote_name(Execution._meta.db_table), connection.ops.quote_name(pk.column)
    prepare = Execution._meta.get_field("started_at").get_db_prep_value
    start, claimed_at = prepare(started, connection), prepare(now, connection)
    ids = [pk.get_db_prep_value(key, connection) for key in keys]
    where = f"{column} IN ({', '.join(['%s'] * len(ids))}) AND status = %s"
    if connection.features.has_select_for_update:
        where = f"{column} IN (SELECT {column} FROM {table} WHERE {where} ORDER BY {column} FOR UPDATE)"
    sql = (
        f"UPDATE {table} SET status = %s, started_at = %s, enqueued_at = COALESCE(enqueued_at, %s) "
        f"WHERE {where} RETURNING *"
    )
    params = [Execution.Status.RUNNING, start, claimed_at, *ids, Execution.Status.QUEUED]
    return list(Execution.objects.raw(sql, params))


def _can_update_returning() -> bool:
    """PostgreSQL and SQLite 3.35+ return rows from an UPDATE (MySQL and MariaDB do not)."""
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and connection.features.can_return_columns_from_insert


def _claim_one(key: Any, started: datetime, now: datetime) -> bool:
    queued = Execution.objects.filter(pk=key, status=Execution.Status.QUEUED)
    enqueued = Coalesce("enqueued_at", Value(now, output_field=DateTimeField()))
    return bool(queued.update(status=Execution.Status.RUNNING, started_at=started, enqueued_at=enqueued))


def _stopped(exc: BaseException) -> dict[str, Any]:
    """The outcome of a handler still running when its task was stopped."""
    return {
        "status": Execution.Status.FAILED,
        "finished_at": timezone.now(),
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
            "finished_at": timezone.now(),
            "error": _describe_error(exc),
            "traceback": tb.format_exc(),
        }
    return {"status": Execution.Status.SUCCEEDED, "finished_at": timezone.now(), "result": result}


def _record(execution: Execution, outcome: dict[str, Any]) -> str:
    """Store a finished execution's outcome (unless something else finished it meanwhile)."""
    return _record_many([(execution, outcome)])[str(execution.pk)]


def _record_many(finished: list[tuple[Execution, dict[str, Any]]]) -> dict[str, str]:
    """Store outcomes: one UPDATE for one, one ``bulk_update`` for many; only rows still running."""
    if not finished:
        return {}
    running = Execution.objects.filter(status=Execution.Status.RUNNING)
    if len(finished) == 1:
        execution, outcome = finished[0]
        running.filter(pk=execution.pk).update(**_finished_fields(execution, outcome))
        return {str(execution.pk): outcome["status"]}
    for execution, outcome in finished:
        for name, value in _finished_fields(execution, outcome).items():
            setattr(execution, name, value)
    running.bulk_update([execution for execution, _ in finished], OUTCOME_FIELDS)
    return {str(execution.pk): outcome["status"] for execution, outcome in finished}


def _finished_fields(execution: Execution, outcome: dict[str, Any]) -> dict[str, Any]:
    """The outcome plus its duration, from the claim to the handler's end."""
    elapsed = outcome["finished_at"] - execution.started_at
    return {"duration_ms": max(0, int(elapsed.total_seconds() * 1000)), **outcome}


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
