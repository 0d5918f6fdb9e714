"""Running one execution on a django-q2 worker, and sending executions to the workers.

The task is idempotent: it runs the handler only if it moves the execution from ``queued`` to
``running`` itself, in one conditional UPDATE. So a task delivered twice (an outbox re-send, a broker
retry) or an execution cancelled meanwhile never runs the handler twice or at all. Whatever the handler
does, raises or returns, the worker survives and the execution records the outcome.
"""

from __future__ import annotations

import json
import logging
import traceback as tb
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.context import JobContext
from django_scheduler_api.models import Execution, Job
from django_scheduler_api.registry import registry

logger = logging.getLogger(__name__)

TASK = "django_scheduler_api.execution.run_execution"


def enqueue(executions: Iterable[Execution]) -> int:
    """Send each execution to django-q2 and mark it enqueued (its outbox entry is then done)."""
    from django_q.tasks import async_task

    options: dict[str, Any] = {}
    if scheduler_settings.Q_CLUSTER_NAME:
        options["cluster"] = scheduler_settings.Q_CLUSTER_NAME
    count = 0
    for execution in executions:
        task_id = async_task(TASK, str(execution.id), task_name=f"scheduler:{execution.job_id}", **options)
        Execution.objects.filter(pk=execution.pk, enqueued_at__isnull=True).update(
            enqueued_at=timezone.now(), task_id=str(task_id or "")[:64]
        )
        count += 1
    return count


def enqueue_on_commit(executions: list[Execution]) -> None:
    """Enqueue after the surrounding transaction commits: a worker must find the rows it is given."""
    transaction.on_commit(lambda: enqueue(executions))


def run_execution(execution_id: str) -> str:
    """The django-q2 task: run the handler of one execution exactly once and record the outcome."""
    started = timezone.now()
    claimed = Execution.objects.filter(pk=execution_id, status=Execution.Status.QUEUED).update(
        status=Execution.Status.RUNNING, started_at=started
    )
    if not claimed:
        logger.info("Execution %s is not queued any more; not running it again.", execution_id)
        return "not-queued"
    execution = Execution.objects.get(pk=execution_id)
    outcome = _call_handler(execution)
    finished = timezone.now()
    Execution.objects.filter(pk=execution_id, status=Execution.Status.RUNNING).update(
        finished_at=finished,
        duration_ms=max(0, int((finished - started).total_seconds() * 1000)),
        **outcome,
    )
    return outcome["status"]


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


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, TypeError | ValueError) and "JSON serializable" in str(exc):
        return f"The handler's result is not JSON-serialisable: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _context(execution: Execution) -> JobContext:
    job = Job.objects.filter(pk=execution.job_id).only("previous_fire_time", "next_fire_time").first()
    return JobContext(
        job_id=execution.job_id,
        execution_id=str(execution.id),
        trigger=execution.trigger,
        data=dict(execution.data or {}),
        fire_time=execution.fire_time,
        scheduled_fire_time=execution.scheduled_fire_time,
        previous_fire_time=_previous_fire(execution),
        next_fire_time=job.next_fire_time if job else None,
    )


def _previous_fire(execution: Execution) -> datetime | None:
    """The fire before this one: the last earlier scheduled fire of the same job."""
    return (
        Execution.objects.filter(
            job_id=execution.job_id, scheduled_fire_time__lt=execution.scheduled_fire_time
        )
        .exclude(trigger=Execution.Trigger.MANUAL)
        .order_by("-scheduled_fire_time")
        .values_list("scheduled_fire_time", flat=True)
        .first()
    )
