"""Fixtures of the observability tests: executions with chosen times, statuses and durations."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from django_scheduler_api.models import Execution, Job
from tests import factories

# The jobs of these tests fire at noon unless a test says otherwise.
make_job = partial(factories.make_job, cron_expression=factories.NOON)


def make_execution(
    job: Job,
    *,
    at: datetime | None = None,
    status: str = Execution.Status.SUCCEEDED,
    trigger: str = Execution.Trigger.SCHEDULE,
    lag_ms: float | None = 2,
    duration_ms: int | None = 10,
    **fields: Any,
) -> Execution:
    """One execution fired at ``at``: started ``lag_ms`` later (None: not started), finished after
    ``duration_ms`` when its status is a finished one."""
    at = at or timezone.now() - timedelta(seconds=30)
    started = None if lag_ms is None else at + timedelta(milliseconds=lag_ms)
    finished = status in Execution.FINISHED and started is not None
    times = {
        "enqueued_at": at,
        "started_at": started,
        "finished_at": started + timedelta(milliseconds=duration_ms or 0) if finished else None,
        "duration_ms": duration_ms if finished else None,
    }
    return factories.make_execution(job, status, at=at, trigger=trigger, **{**times, **fields})


@pytest.fixture(autouse=True)
def fresh_cache():
    """The metrics are cached in Django's cache: every test starts without a cached answer."""
    cache.clear()
    yield
    cache.clear()
