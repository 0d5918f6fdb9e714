"""The worker side: the django-q2 task that runs executions, and the outcome it records.

One django-q2 task carries the executions of one or more fires (the scheduler packs the fires of an
instant into a few tasks, see ``dispatch``). The task is idempotent: it runs a handler only if it
moves the execution from ``queued`` to ``running`` itself, in one conditional UPDATE for the whole
task (``store.claim_executions``). So a task delivered twice (an outbox re-send, a broker retry) or an
execution cancelled meanwhile never runs a handler twice or at all. Whatever a handler does, raises
or returns, the worker survives and the execution records the outcome.

A task of one execution runs its handler on the worker's own thread, as any django-q2 task. A task of
several starts them together, each on a thread of the worker's pool (``handler_threads``), so a slow
handler delays no other's start.

Faults: a claimed execution later than ``MISFIRE_THRESHOLD`` is judged by its job's misfire policy
before it runs (``store.misfires``: a task that waited in the broker, or was sent again); the claim
records this worker process, whose heartbeat (``heartbeat.WorkerHeartbeat``) vouches for the
execution while it runs; an outcome that cannot be written because the database went away is written
again once it is back (``RECORD_PATIENCE``), so a handler that finished is recorded as such, never as
lost. ``started_at`` is the moment the handler really started; the planned instant is ``fire_time``.
"""

from __future__ import annotations

import json
import logging
import time
import traceback as tb
from datetime import UTC, datetime
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from django_scheduler_api import jsonvalues, signals
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.context import JobContext
from django_scheduler_api.engine import deadlines, errors, handler_logs, handler_threads, heartbeat, store
from django_scheduler_api.models import Execution
from django_scheduler_api.registry import registry

logger = logging.getLogger(__name__)

# The dotted path django-q2 stores with each task and imports on the worker.
TASK = f"{__name__}.run_executions"
# Paths of the same task in earlier releases, still found in brokers and in django-q2's failures.
FORMER_TASKS = (
    "django_scheduler_api.execution.run_executions",
    "django_scheduler_api.execution.run_execution",
)
NOT_QUEUED = "not-queued"
# Seconds before a task's fire instant that the worker claims its executions (docs/engine.rst,
# "Handing over early"). A fire handed over earlier stays ``queued`` until then, so a job paused or
# deleted before it is not run; later than that, the claim would add to the fire's lag.
CLAIM_AHEAD = 0.05
# How long a worker keeps trying to write outcomes while the database is unreachable (seconds).
RECORD_PATIENCE = 600


def run_executions(execution_ids: list[str], start_at: float | None = None) -> dict[str, str]:
    """The django-q2 task: run the handlers of these executions, each exactly once, and record the
    outcomes. Returns each execution's final status (``not-queued`` for one it did not run).

    ``start_at`` (Unix time) is the fire instant of a task handed over ahead of it (``LOOKAHEAD``):
    the executions are claimed ``CLAIM_AHEAD`` before it (at once if that has passed) and their
    handlers start at the instant, not before.
    """
    handler_threads.warm_up()
    heartbeat.start_worker_heartbeat()
    outcomes = dict.fromkeys(map(str, execution_ids), NOT_QUEUED)
    if start_at is not None:
        handler_threads.wait_until(start_at - CLAIM_AHEAD)
    now = timezone.now()
    executions = store.claim_executions(execution_ids, now=now, worker=heartbeat.current_worker())
    executions = _drop_misfires(executions, _start_time(start_at, now), outcomes)
    if len(executions) < len(outcomes):
        logger.info(
            "%d of %d executions are not queued any more; not running them.",
            len(outcomes) - len(executions),
            len(outcomes),
        )
    if len(executions) == 1:
        handler_threads.wait_until(start_at)
        outcomes.update(_record([(executions[0], _call_handler(executions[0]))]))
    elif executions:
        record = lambda done: outcomes.update(_record(done))  # noqa: E731
        handler_threads.run_together(executions, _call_handler, record, _stopped, start_at=start_at)
    return outcomes


def run_execution(execution_id: str) -> str:
    """Run one execution (a task of one); its final status, or ``not-queued``."""
    return run_executions([execution_id])[str(execution_id)]


def _start_time(start_at: float | None, now: datetime) -> datetime:
    """When the handlers start: now, or the fire instant if it is still ahead."""
    if start_at is None:
        return now
    return max(now, datetime.fromtimestamp(start_at, tz=UTC))


def _drop_misfires(executions: list[Execution], start: datetime, outcomes: dict[str, str]) -> list[Execution]:
    """Record ``skipped`` the claimed executions their job's misfire policy drops at ``start`` (a
    task that waited in the broker, or was sent again, past ``MISFIRE_THRESHOLD``); the rest run."""
    threshold = scheduler_settings.misfire_threshold
    dropped = store.misfires(executions, start, threshold=threshold)
    if not dropped:
        return executions
    error = store.misfire_error(dropped, start, threshold)
    skip = {"status": Execution.Status.SKIPPED, "started_at": None, "error": error}
    outcomes.update(_record([(execution, {**skip, "finished_at": timezone.now()}) for execution in dropped]))
    _count_dropped(dropped)
    gone = {execution.pk for execution in dropped}
    return [execution for execution in executions if execution.pk not in gone]


def _count_dropped(dropped: list[Execution]) -> None:
    """Count the misfires just recorded skipped (``DroppedMisfires``). The skips are the outcome
    that matters and are stored already; a count the database refuses is logged, not retried (the
    rows this worker claimed are its own, so no other process counts them)."""
    counts: dict[str, tuple[int, datetime]] = {}
    for execution in dropped:
        count, latest = counts.get(execution.job_id, (0, execution.scheduled_fire_time))
        counts[execution.job_id] = (count + 1, max(latest, execution.scheduled_fire_time))
    try:
        with transaction.atomic():
            store.count_dropped_misfires(counts, timezone.now())
    except DatabaseError as exc:
        logger.warning("Counting %d dropped misfires failed (%s); the metric misses them.", len(dropped), exc)


def _record(finished: list[tuple[Execution, dict[str, Any]]]) -> dict[str, str]:
    """Store outcomes, each with its duration, then announce them (``execution_finished``); their
    statuses.

    While the database is unreachable the write is tried again after a back-off, for up to
    ``RECORD_PATIENCE`` seconds: it is idempotent, and a handler that finished must not be taken for
    lost because its outcome came during an outage.
    """
    outcomes = [(execution, _with_duration(execution, done)) for execution, done in finished]
    deadline = time.monotonic() + RECORD_PATIENCE
    failures = 0
    while True:
        try:
            store.record_outcomes(outcomes)
            break
        except DatabaseError as exc:
            failures += 1
            if time.monotonic() >= deadline:
                raise
            logger.warning("Writing %d outcomes failed (%s); trying again.", len(outcomes), exc)
            connection.close()
            time.sleep(errors.backoff(failures))
    for execution, outcome in outcomes:
        for name, value in outcome.items():
            setattr(execution, name, value)
        signals.send(signals.execution_finished, Execution, execution=execution, status=outcome["status"])
    return {str(execution.pk): outcome["status"] for execution, outcome in finished}


def _with_duration(execution: Execution, outcome: dict[str, Any]) -> dict[str, Any]:
    """The outcome plus its duration, from the handler's real start (the claim, for a handler
    stopped before it reported one) to its end; none for an execution that never started."""
    started = outcome["started_at"] if "started_at" in outcome else execution.started_at
    if started is None:
        return {"duration_ms": None, **outcome}
    elapsed = outcome["finished_at"] - started
    return {"duration_ms": max(0, int(elapsed.total_seconds() * 1000)), **outcome}


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
    """Announce the start (``execution_started``), run the handler capturing what it logs on this
    thread (``handler_logs``), and turn every way it can end into the fields of a finished
    execution."""
    signals.send(signals.execution_started, Execution, execution=execution)
    with handler_logs.capturing() as capture:
        outcome = _run_handler(execution)
    return {**outcome, "log": jsonvalues.storable_text(capture.text)}


def _run_handler(execution: Execution) -> dict[str, Any]:
    """Run the handler; turn every way it can end into the fields of a finished execution, with
    the moment the handler really started."""
    started = timezone.now()
    try:
        func = registry.get(execution.handler).func
        with deadlines.deadline(execution.timeout):  # a job's timeout (docs/scheduling.rst, "Timeouts")
            result = func(_context(execution))
    except deadlines.HandlerTimedOut as exc:
        logger.error("Execution %s of job %s: %s", execution.id, execution.job_id, exc)
        return _failed(started, str(exc), tb.format_exc())
    except BaseException as exc:  # a handler must never take the worker down
        # KeyboardInterrupt and SystemExit too: django-q2's workers ignore SIGINT, so one of them
        # comes from the handler itself, and letting it go on would leave the execution running.
        logger.exception("Execution %s of job %s failed.", execution.id, execution.job_id)
        return _failed(started, f"{type(exc).__name__}: {exc}", tb.format_exc())
    problem = _unstorable(result)
    if problem:
        logger.error("Execution %s of job %s: %s", execution.id, execution.job_id, problem)
        return _failed(started, problem, "")
    finished = timezone.now()
    return {
        "status": Execution.Status.SUCCEEDED,
        "started_at": started,
        "finished_at": finished,
        "result": result,
    }


def _failed(started: datetime, error: str, traceback: str) -> dict[str, Any]:
    return {
        "status": Execution.Status.FAILED,
        "started_at": started,
        "finished_at": timezone.now(),
        "error": jsonvalues.storable_text(error),
        "traceback": jsonvalues.storable_text(traceback),
    }


def _unstorable(result: Any) -> str | None:
    """Why ``result`` cannot be stored in the JSON ``result`` column, or None if it can.

    Checked here, before the write, with the rules every supported database's JSON type enforces:
    JSON values only (no sets, datetimes or objects), no NaN or infinity, which Python's ``json``
    writes by default but the databases refuse, and none of what ``jsonvalues.problem`` names
    (``\u0000``, lone surrogates, deep nesting).
    """
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        return f"The handler's result is not JSON-serialisable: {exc}"
    found = jsonvalues.problem(result)  # what json.dumps writes but a database refuses or garbles
    return f"The handler's result is not JSON-serialisable: {found}" if found else None


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
        attempt=execution.attempt,
    )
