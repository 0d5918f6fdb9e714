"""The rows the tests start from: jobs and executions, built one way for the whole suite.

- ``make_job``: a job saved the way the API saves one (``services.save_job``): group and name from
  the id, the next fire time computed from now.
- ``make_due_job``: a job whose next fire time the test sets itself, written directly (the engine's
  tests decide what is due).
- ``make_execution`` / ``make_executions``: executions of a job, or of a job named after a handler.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from django_scheduler_api import services
from django_scheduler_api.models import Execution, Job

NOON = "0 0 12 * * ?"


def make_job(job_id: str = "reports.daily", **fields: Any) -> Job:
    """A job saved through ``services.save_job``, as the API saves it (no cron: it fires once)."""
    fields.setdefault("handler", "tests.echo")
    job, _ = services.save_job(job_id, fields)
    return job


def make_due_job(
    job_id: str = "e.job", *, due: datetime | None, cron: str = "* * * * * ?", **fields: Any
) -> Job:
    """A planned job whose next fire is ``due`` (None: no next fire), written as it stands."""
    fields.setdefault("handler", "tests.echo")
    group, name = Job.split_id(job_id)
    fields.setdefault("group", group)
    fields.setdefault("name", name)
    return Job.objects.create(id=job_id, cron_expression=cron, next_fire_time=due, **fields)


def make_execution(
    job: Job | None = None,
    status: str = Execution.Status.QUEUED,
    *,
    handler: str = "tests.echo",
    at: datetime | None = None,
    minutes_ago: float = 0,
    trigger: str = Execution.Trigger.SCHEDULE,
    **fields: Any,
) -> Execution:
    """One execution of ``job`` (default: the job ``t.<handler>``, created when missing) scheduled
    ``at`` (default: ``minutes_ago`` minutes ago), in ``status``; ``fields`` set any other column."""
    if job is None:
        job, _ = Job.objects.get_or_create(
            id=f"t.{handler}", defaults={"group": "t", "name": handler, "handler": handler}
        )
    when = at or timezone.now() - timedelta(minutes=minutes_ago)
    values: dict[str, Any] = {
        "job_id": job.id,
        "handler": job.handler,
        "trigger": trigger,
        "status": status,
        "scheduled_fire_time": when,
        "fire_time": when,
        **fields,
    }
    return Execution.objects.create(**values)


def make_executions(count: int, handler: str, data: dict[str, Any] | None = None) -> list[Execution]:
    """``count`` queued executions of the job ``t.<handler>``, each with ``i`` in its data."""
    return [make_execution(handler=handler, data={**(data or {}), "i": i}) for i in range(count)]
