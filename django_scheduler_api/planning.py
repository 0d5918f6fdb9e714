"""Fire-time arithmetic: a job's cron, zone and [start_time, end_time] window -> its next fire.

Pure functions over plain values (no database), so the scheduler loop, the API and the admin all
compute the same times. All datetimes in and out are aware; results are in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django_scheduler_api.cron import CronExpression

ONE_SECOND = timedelta(seconds=1)


@lru_cache(maxsize=4096)
def parse_cron(expression: str) -> CronExpression:
    """Parsed expressions are immutable; cache them so the scheduler parses each text once."""
    return CronExpression(expression)


@dataclass(frozen=True)
class Schedule:
    """When a job may fire: a cron expression (empty = once) read in ``timezone``, within a window."""

    cron_expression: str = ""
    timezone: str = "UTC"
    start_time: datetime | None = None
    end_time: datetime | None = None

    @classmethod
    def of(cls, job: Any) -> Schedule:
        """The schedule of anything with the Job's schedule attributes (a model or a dict-like)."""
        return cls(
            cron_expression=job.cron_expression or "",
            timezone=job.timezone or "UTC",
            start_time=job.start_time,
            end_time=job.end_time,
        )


def next_fire_time(
    schedule: Schedule, after: datetime, *, previous_fire_time: datetime | None = None
) -> datetime | None:
    """The first fire strictly after ``after`` inside the window, or None when none is left.

    A schedule without cron fires once: at ``start_time``, or at ``after`` (that is, at once) when
    ``start_time`` is empty or past; once it has fired (``previous_fire_time``) it has no next fire.
    """
    if not schedule.cron_expression:
        if previous_fire_time is not None:
            return None
        fire = schedule.start_time if schedule.start_time and schedule.start_time > after else after
        return _inside_end(schedule, fire)
    base = after
    if schedule.start_time is not None and schedule.start_time > after:
        base = schedule.start_time - ONE_SECOND  # the cron's first time at or after start_time
    expression = parse_cron(schedule.cron_expression)
    for fire in expression.fire_times(base, schedule.timezone):
        if schedule.start_time is None or fire >= schedule.start_time:
            return _inside_end(schedule, fire.astimezone(UTC))
        if schedule.end_time is not None and fire > schedule.end_time:
            return None
    return None


def _inside_end(schedule: Schedule, fire: datetime) -> datetime | None:
    if schedule.end_time is not None and fire > schedule.end_time:
        return None
    return fire
