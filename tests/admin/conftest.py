"""Fixtures of the admin tests: jobs and executions to look at, and the add form's fields."""

from __future__ import annotations

from functools import partial

import pytest

from django_scheduler_api.models import Execution, Job
from tests import factories
from tests.factories import make_execution

# The admin's jobs fire at noon unless a test says otherwise.
make_job = partial(factories.make_job, cron_expression=factories.NOON)


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
        "interval": "",
        "interval_anchor_0": "",
        "interval_anchor_1": "",
        "repeat_count": "",
        "jitter": "0",
        "retry_max_attempts": "1",
        "retry_initial_delay": "10",
        "retry_backoff_coefficient": "2.0",
        "retry_max_delay": "",
        "timeout": "",
        "max_concurrent": "",
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
