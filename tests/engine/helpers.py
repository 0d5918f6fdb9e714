"""Small builders shared by the engine's tests."""

from __future__ import annotations

from datetime import datetime

from django_scheduler_api.models import Execution, Job


def make_job(job_id: str = "e.job", *, due: datetime | None, cron: str = "* * * * * ?", **fields) -> Job:
    """A planned job whose next fire is ``due`` (None: no next fire)."""
    fields.setdefault("handler", "tests.echo")
    return Job.objects.create(
        id=job_id, group="e", name=job_id, cron_expression=cron, next_fire_time=due, **fields
    )


def executions(job_id: str = "e.job") -> list[Execution]:
    return list(Execution.objects.filter(job_id=job_id).order_by("scheduled_fire_time"))


def reload(job: Job) -> Job:
    job.refresh_from_db()
    return job
