"""Upcoming fire times, computed the way the scheduler computes them (``planning``).

Shared by the CLI's ``show``/``preview`` and the admin's "next five fire times", so every view of a
schedule agrees with what the scheduler will actually do.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from django.utils import timezone

from django_scheduler_api import planning


def upcoming_fire_times(job: Any, count: int = 5, now: datetime | None = None) -> list[datetime]:
    """The next ``count`` fires of a job (anything with the Job's schedule fields) after now."""
    return list(islice(_fires(job, now or timezone.now()), count))


def preview_fire_times(expression: str, zone: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fires of a bare cron expression strictly after ``after``, in UTC."""
    schedule = planning.Schedule(cron_expression=expression, timezone=zone)
    return list(islice(_schedule_fires(schedule, after, None), count))


def _fires(job: Any, after: datetime) -> Iterator[datetime]:
    return _schedule_fires(planning.Schedule.of(job), after, job.previous_fire_time)


def _schedule_fires(
    schedule: planning.Schedule, after: datetime, previous: datetime | None
) -> Iterator[datetime]:
    while True:
        fire = planning.next_fire_time(schedule, after, previous_fire_time=previous)
        if fire is None:
            return
        yield fire
        after = previous = fire
