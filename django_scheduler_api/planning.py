"""Fire-time arithmetic: a job's cron (or interval), zone, [start_time, end_time] window and
calendars -> its next fire.

Pure functions over plain values (no database), so the scheduler loop, the API and the admin all
compute the same times. All datetimes in and out are aware; results are in UTC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django_scheduler_api.cron import CronError, CronExpression, describe
from django_scheduler_api.exclusions import Budget, CalendarRules, ExcludedEverything, excluded_until
from django_scheduler_api.models import Execution, Job

__all__ = ["CalendarRules", "ExcludedEverything"]  # with the names defined below

ONE_SECOND = timedelta(seconds=1)
ONE_MICROSECOND = timedelta(microseconds=1)
# An excluded stretch that ends this late (a range to 9999-12-31) leaves no fire after it.
EXCLUSION_HORIZON = datetime(9999, 12, 31, tzinfo=UTC)
# The anchor of an interval that has neither ``interval_anchor`` nor ``start_time``: fires fall on
# whole multiples of the interval since the Unix epoch (as Temporal's interval specs with no phase),
# so "every 900 s" fires at :00, :15, :30, :45 and every process computes the same times.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=4096)
def parse_cron(expression: str) -> CronExpression:
    """Parsed expressions are immutable; cache them so the scheduler parses each text once."""
    return CronExpression(expression)


@dataclass(frozen=True)
class Schedule:
    """When a job may fire: a cron expression read in ``timezone``, or every ``interval`` seconds from
    an anchor (neither: once), within a window."""

    cron_expression: str = ""
    timezone: str = "UTC"
    start_time: datetime | None = None
    end_time: datetime | None = None
    interval: int | None = None
    interval_anchor: datetime | None = None
    repeat_count: int | None = None
    jitter: int = 0
    jitter_key: str = ""  # the job's id: what makes two jobs' delays differ
    calendars: tuple[CalendarRules, ...] = ()  # whose exclusions skip fires, read in ``timezone``

    @classmethod
    def of(cls, job: Any, rules: Mapping[str, CalendarRules] | None = None) -> Schedule:
        """The schedule of anything with the Job's schedule attributes (a model or a dict-like).

        ``rules`` holds (at least) the job's calendars by name; a job that names calendars has no
        schedule without them, so leaving them out is a mistake, not "no exclusions".
        """
        names = list(getattr(job, "calendars", None) or ())
        if names and rules is None:
            raise ValueError(f"The schedule of job {getattr(job, 'id', '?')!r} needs its calendars' rules.")
        jitter = getattr(job, "jitter", 0) or 0
        return cls(
            cron_expression=job.cron_expression or "",
            timezone=job.timezone or "UTC",
            start_time=job.start_time,
            end_time=job.end_time,
            interval=getattr(job, "interval", None) or None,
            interval_anchor=getattr(job, "interval_anchor", None),
            repeat_count=getattr(job, "repeat_count", None),
            jitter=jitter,
            # Only a jitter tells two jobs' times apart: without one, equal schedules are equal
            # (``plan_due_job`` then plans a whole herd of them once).
            jitter_key=str(getattr(job, "id", "") or "") if jitter else "",
            calendars=tuple(rules[name] for name in names if rules is not None and name in rules),
        )

    @property
    def is_one_shot(self) -> bool:
        return not self.cron_expression and not self.interval

    @property
    def anchor(self) -> datetime:
        """The instant an interval counts from: its first possible fire."""
        return self.interval_anchor or self.start_time or EPOCH


def next_fire_time(
    schedule: Schedule, after: datetime, *, previous_fire_time: datetime | None = None
) -> datetime | None:
    """The first fire strictly after ``after`` inside the window, or None when none is left.

    A schedule without cron fires once: at ``start_time``, or at ``after`` (that is, at once) when
    ``start_time`` is empty or past; once it has fired (``previous_fire_time``) it has no next fire.
    An interval schedule fires at ``anchor + k * interval`` (docs/scheduling.rst). A time that one
    of the schedule's calendars excludes is skipped (``ExcludedEverything`` when a bounded search
    finds none that is not). With ``jitter`` the fire is the schedule's time plus ``jitter_delay``.
    """
    fire = _next_included_time(schedule, after, previous_fire_time)
    if fire is None or not schedule.jitter:
        return fire
    return fire + jitter_delay(schedule, fire)


def fires_after(
    schedule: Schedule, after: datetime, previous_fire_time: datetime | None = None
) -> Iterator[datetime]:
    """The schedule's fires strictly after ``after``, in order, each found from the one before as the
    scheduler finds them (the preview, a job's next fires, a backfill's range)."""
    while (fire := next_fire_time(schedule, after, previous_fire_time=previous_fire_time)) is not None:
        yield fire
        after = previous_fire_time = fire


def jitter_delay(schedule: Schedule, fire: datetime) -> timedelta:
    """How long a fire of the schedule at ``fire`` waits: whole milliseconds from 0 to ``jitter``
    seconds, from a hash of the job's id and the fire's time (the same in every process, so the
    delayed instant is a stable key for the exactly-once constraint), and always less than the gap
    to the schedule's next time, so fires keep their order and the next one is found from the
    delayed instant.
    """
    bound_ms = schedule.jitter * 1000
    following = _next_schedule_time(schedule, fire, fire)
    if following is not None:
        bound_ms = min(bound_ms, (following - fire) // timedelta(milliseconds=1) - 1)
    if bound_ms <= 0:
        return timedelta(0)
    seed = f"{schedule.jitter_key}|{fire.astimezone(UTC).isoformat()}".encode()
    number = int.from_bytes(hashlib.sha256(seed).digest()[:8], "big")
    return timedelta(milliseconds=number % (bound_ms + 1))


def _next_included_time(
    schedule: Schedule, after: datetime, previous_fire_time: datetime | None
) -> datetime | None:
    """The schedule's first time after ``after`` that no calendar excludes (before any jitter).

    From an excluded time the search goes on from the end of its excluded stretch (the next local
    day for a date, the first second the cron does not select), the way Quartz's triggers ask
    ``Calendar.getNextIncludedTime``; each step counts against a ``Budget``.
    """
    fire = _next_schedule_time(schedule, after, previous_fire_time)
    if not schedule.calendars:
        return fire
    budget = Budget((calendar.name for calendar in schedule.calendars), after)
    while fire is not None:
        until = excluded_until(schedule.calendars, fire, schedule.timezone, budget)
        if until is None:
            return fire
        budget.spend()
        if until >= EXCLUSION_HORIZON:
            return None
        fire = _next_schedule_time(schedule, until - ONE_MICROSECOND, fire)  # the first at or after
    return None


def _next_schedule_time(
    schedule: Schedule, after: datetime, previous_fire_time: datetime | None
) -> datetime | None:
    """The schedule's own next time strictly after ``after`` (before any jitter)."""
    if schedule.interval:
        return _next_interval_fire(schedule, after)
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


def _next_interval_fire(schedule: Schedule, after: datetime) -> datetime | None:
    """The first ``anchor + k * interval`` (0 <= k <= repeat_count) strictly after ``after`` and not
    before ``start_time``: integer arithmetic, so a fire a year away costs what the next one does."""
    step = timedelta(seconds=schedule.interval or 1)
    anchor = schedule.anchor
    k = (after - anchor) // step + 1 if after >= anchor else 0
    if schedule.start_time is not None and schedule.start_time > anchor:
        k = max(k, -((anchor - schedule.start_time) // step))  # ceil((start - anchor) / step)
    if schedule.repeat_count is not None and k > schedule.repeat_count:
        return None
    try:
        fire = anchor + k * step
    except OverflowError:  # past the year 9999: no fire is left
        return None
    return _inside_end(schedule, fire.astimezone(UTC))


def describe_interval(interval: int) -> str:
    """``Every 90 minutes``: the interval in the largest unit that divides it."""
    for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if interval % seconds == 0:
            n = interval // seconds
            return f"Every {unit}" if n == 1 else f"Every {n} {unit}s"
    return "Every second" if interval == 1 else f"Every {interval} seconds"


def describe_schedule(cron_expression: str, interval: int | None, *, once: str = "Once") -> str:
    """What a job's schedule says in words: the interval's, the cron expression's (its error, for
    one stored before a stricter engine, rather than failing a page), or ``once``."""
    if interval:
        return describe_interval(interval)
    if not cron_expression:
        return once
    try:
        return describe(cron_expression)
    except CronError as exc:
        return f"Invalid: {exc}"


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
    waiting: bool = False  # kept until a run of the job ends (overlap policy ``buffer_one``)


@dataclass(frozen=True)
class FirePlan:
    """What a scheduler does with a due job: the fires to record and the job's new fire times."""

    fires: tuple[Fire, ...]
    next_fire_time: datetime | None
    previous_fire_time: datetime | None
    # The first missed fire time of a misfire that ``do_nothing`` dropped (nothing is recorded).
    dropped_misfire: datetime | None = None


@lru_cache(maxsize=1024)
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

    The plan depends on its arguments only, and is immutable, so it is cached: the jobs of a claim
    that share a schedule, a due time and a policy (10,000 tenants' jobs at midnight) are planned
    once, not once each.
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
    if policy == Job.MisfirePolicy.FIRE_AND_PROCEED or schedule.is_one_shot:
        following = next_fire_time(schedule, now, previous_fire_time=due)
        return FirePlan((Fire(due, Execution.Trigger.MISFIRE),), following, due)
    following = next_fire_time(schedule, now, previous_fire_time=previous_fire_time)
    return FirePlan((), following, previous_fire_time, dropped_misfire=due)


@dataclass(frozen=True)
class Occupancy:
    """A job's runs that hold a place when its fires are planned: queued or running (``pending``),
    and kept waiting (``waiting``)."""

    pending: int = 0
    waiting: int = 0


def concurrency_limit(policy: str, max_concurrent: int | None) -> int | None:
    """How many runs of a job may be pending at once: none under ``allow``, else ``max_concurrent``
    (default one)."""
    if policy == Job.OverlapPolicy.ALLOW:
        return None
    return max_concurrent or 1


def apply_overlap(
    fires: tuple[Fire, ...], *, policy: str, max_concurrent: int | None, occupancy: Occupancy
) -> tuple[Fire, ...]:
    """Decide each fire by the job's overlap policy (docs/scheduling.rst, "Overlap").

    A fire runs while fewer than the limit (``concurrency_limit``) are pending and none is waiting
    (a waiting run is first in line). Beyond that, under ``skip`` it is skipped; under
    ``buffer_one`` it waits if none waits yet, else it is skipped. Within one plan each fire that
    runs or waits counts for the ones after it.
    """
    limit = concurrency_limit(policy, max_concurrent)
    if limit is None:
        return fires
    pending, waiting = occupancy.pending, occupancy.waiting
    planned = []
    for fire in fires:
        if pending < limit and not waiting:
            planned.append(fire)
            pending += 1
        elif policy == Job.OverlapPolicy.BUFFER_ONE and not waiting:
            planned.append(Fire(fire.scheduled, fire.trigger, waiting=True))
            waiting += 1
        else:
            planned.append(Fire(fire.scheduled, fire.trigger, skipped=True))
    return tuple(planned)
