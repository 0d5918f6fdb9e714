"""Fixtures of the admin tests: jobs and executions to look at, and the add form's fields."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_scheduler_api import services
from django_scheduler_api.models import Execution, Job


def make_job(job_id: str, **fields) -> Job:
    """A job saved the way the API saves one: group/name from the id, next fire time computed."""
    group, name = Job.split_id(job_id)
    values = {"group": group, "name": name, "handler": "tests.echo", "cron_expression": "0 0 12 * * ?"}
    values.update(fields)
    job = Job(id=job_id, **values)
    services.reschedule(job)
    job.save()
    return job


def make_execution(job: Job, status: str = Execution.Status.SUCCEEDED, minutes_ago: int = 0, **fields):
    when = timezone.now() - timedelta(minutes=minutes_ago)
    values = {
        "job_id": job.id,
        "handler": job.handler,
        "trigger": Execution.Trigger.SCHEDULE,
        "status": status,
        "scheduled_fire_time": when,
        "fire_time": when,
    }
    values.update(fields)
    return Execution.objects.create(**values)


def form_data(**overrides) -> dict[str, str]:
    """Every field of the job add/change form, as the browser posts it."""
    data = {
        "id": "reports.daily",
        "group": "",
        "name": "",
        "description": "",
        "handler": "tests.echo",
        "state": "planned",
        "cron_expression": "0 15 10 ? * 2-6",
        "timezone": "UTC",
        "start_time_0": "",
        "start_time_1": "",
        "end_time_0": "",
        "end_time_1": "",
        "misfire_policy": "do_nothing",
        "overlap_policy": "allow",
        "data": "{}",
    }
    data.update(overrides)
    return data


@pytest.fixture
def jobs(db) -> dict[str, Job]:
    """Three jobs in two groups with two handlers, one paused, with some history."""
    daily = make_job("reports.daily", description="Mail the daily report")
    weekly = make_job("reports.weekly", cron_expression="0 0 8 ? * MON", handler="tests.sleep")
    cleanup = make_job("cleanup", state=Job.State.PAUSED, description="Remove old files")
    make_execution(daily, Execution.Status.FAILED, minutes_ago=10, error="RuntimeError: boom")
    make_execution(daily, Execution.Status.SUCCEEDED, minutes_ago=5, result={"sent": 3})
    return {"daily": daily, "weekly": weekly, "cleanup": cleanup}
