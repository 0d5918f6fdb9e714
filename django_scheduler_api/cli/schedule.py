"""A job's upcoming fire times, computed the way the scheduler computes them (``planning``).

Shared by the CLI's ``show`` and the admin's "next five fire times", so every view of a
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


def _fires(job: Any, after: datetime) -> Iterator[datetime]:
    schedule = planning.Schedule.of(job)
    previous = job.previous_fire_time
    while True:
        fire = planning.next_fire_time(schedule, after, previous_fire_time=previous)
        if fire is None:
            return
        yield fire
        after = previous = fire
