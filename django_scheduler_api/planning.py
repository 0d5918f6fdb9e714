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
from django_scheduler_api.models import Execution, Job

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


# --- Planning one due job: catch-up, misfires and overlap ----------------------------------------

# A job late by less than the misfire threshold catches up every fire it missed; this bounds the
# fires planned for one job in one claim (the rest follow on the next claim).
MAX_FIRES_PER_CLAIM = 100


@dataclass(frozen=True)
class Fire:
    """One fire to record: the instant the schedule named, how it came about, and whether it is skipped."""

    scheduled: datetime
    trigger: str = Execution.Trigger.SCHEDULE
    skipped: bool = False


@dataclass(frozen=True)
class FirePlan:
    """What a scheduler does with a due job: the fires to record and the job's new fire times."""

    fires: tuple[Fire, ...]
    next_fire_time: datetime | None
    previous_fire_time: datetime | None


def plan_due_job(
    schedule: Schedule,
    due: datetime,
    now: datetime,
    *,
    misfire_policy: str,
    threshold: timedelta,
    previous_fire_time: datetime | None = None,
) -> FirePlan:
    """Plan the fires of a job whose ``next_fire_time`` (``due``) has come, as Quartz would.

    Late by at most ``threshold``: every fire from ``due`` up to ``now`` fires now (a scheduler that
    was busy or restarted for a moment loses nothing). Later than that it is a misfire, decided on the
    oldest missed fire as Quartz does: ``do_nothing`` drops every missed fire and waits for the next
    regular one; ``fire_and_proceed`` records one ``misfire`` fire (for the first missed time, so that
    the unique constraint still makes it once-only) and then follows the schedule. A one-shot job has
    no regular fire to wait for, so a missed one-shot always fires once now (Quartz's smart policy).
    """
    if now - due > threshold:
        return _plan_misfire(schedule, due, now, misfire_policy, previous_fire_time)
    fires = [Fire(due)]
    following = next_fire_time(schedule, due, previous_fire_time=due)
    while following is not None and following <= now and len(fires) < MAX_FIRES_PER_CLAIM:
        fires.append(Fire(following))
        following = next_fire_time(schedule, following, previous_fire_time=following)
    return FirePlan(tuple(fires), following, fires[-1].scheduled)


def _plan_misfire(
    schedule: Schedule,
    due: datetime,
    now: datetime,
    policy: str,
    previous_fire_time: datetime | None,
) -> FirePlan:
    if policy == Job.MisfirePolicy.FIRE_AND_PROCEED or not schedule.cron_expression:
        following = next_fire_time(schedule, now, previous_fire_time=due)
        return FirePlan((Fire(due, Execution.Trigger.MISFIRE),), following, due)
    following = next_fire_time(schedule, now, previous_fire_time=previous_fire_time)
    return FirePlan((), following, previous_fire_time)


def apply_overlap(fires: tuple[Fire, ...], *, skip_overlap: bool, busy: bool) -> tuple[Fire, ...]:
    """Mark fires skipped under the ``skip`` overlap policy: none starts while another is pending.

    ``busy`` says the job already has an execution queued or running; within one plan the first fire
    that is not skipped makes the job busy for the ones after it.
    """
    if not skip_overlap:
        return fires
    planned = []
    for fire in fires:
        planned.append(Fire(fire.scheduled, fire.trigger, skipped=busy))
        busy = True
    return tuple(planned)
