"""Calendars in the fire-time arithmetic (docs/scheduling.rst, "Calendars"): which instants each
kind of exclusion removes, read on the job's zone clock, the bounded search past them, and the
scheduler's claim using the same rule.

Pure: ``planning`` over ``CalendarRules`` values. The expected fires come from a brute-force oracle
(every raw fire of the schedule, kept when no rule excludes its local date or second), written here
without the stretch-skipping of ``exclusions``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from django_scheduler_api import calendars
from django_scheduler_api.cron import CronExpression
from django_scheduler_api.engine import store
from django_scheduler_api.models import Execution, Job
from django_scheduler_api.planning import (
    CalendarRules,
    ExcludedEverything,
    Schedule,
    next_fire_time,
    plan_due_job,
)
from tests.factories import make_due_job


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def fires(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    found = []
    while len(found) < count and (fire := next_fire_time(schedule, after, previous_fire_time=after)):
        found.append(fire)
        after = fire
    return found


def raw_fires(schedule: Schedule, after: datetime) -> list[datetime]:
    """Every fire of the schedule without its calendars, forever (a generator)."""
    bare = Schedule(**{**schedule.__dict__, "calendars": ()})
    while (fire := next_fire_time(bare, after, previous_fire_time=after)) is not None:
        yield fire
        after = fire


def oracle_excludes(calendar: CalendarRules, moment: datetime, zone: str) -> bool:
    """The rules as docs/scheduling.rst states them, one instant at a time."""
    local = moment.astimezone(ZoneInfo(zone))
    day = local.date()
    wall = local.replace(tzinfo=None, microsecond=0)
    return (
        day in calendar.dates
        or (day.month, day.day) in calendar.yearly_dates
        or any(first <= day <= last for first, last in calendar.date_ranges)
        or any(_selects(text, wall, zone) for text in calendar.cron_expressions)
    )


def _selects(text: str, wall: datetime, zone: str) -> bool:
    """The cron selects the wall-clock second: the next fire after the wall's previous second (read
    in UTC, where every wall second exists) is that second."""
    before = wall.replace(tzinfo=UTC) - timedelta(seconds=1)
    return CronExpression(text).next_fire_time(before, "UTC") == wall.replace(tzinfo=UTC)


def expected(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    kept = (
        fire
        for fire in raw_fires(schedule, after)
        if not any(oracle_excludes(c, fire, schedule.timezone) for c in schedule.calendars)
    )
    return list(islice(kept, count))


def test_excluded_dates_skip_a_weekday_job_on_public_holidays():
    holidays = CalendarRules("holidays-de", dates=frozenset({date(2026, 12, 24), date(2026, 12, 25)}))
    job = Schedule("0 0 9 ? * MON-FRI", "Europe/Berlin", calendars=(holidays,))
    found = fires(job, utc(2026, 12, 22), 4)
    assert [f.astimezone(ZoneInfo("Europe/Berlin")).date() for f in found] == [
        date(2026, 12, 22),
        date(2026, 12, 23),
        date(2026, 12, 28),  # 24 and 25 excluded, 26-27 a weekend
        date(2026, 12, 29),
    ]
    assert found == expected(job, utc(2026, 12, 22), 4)


def test_a_date_range_is_inclusive_at_both_ends():
    closed = CalendarRules("closed", date_ranges=((date(2026, 12, 24), date(2026, 12, 31)),))
    job = Schedule("0 0 12 * * ?", "UTC", calendars=(closed,))
    found = fires(job, utc(2026, 12, 22), 3)
    assert found == [utc(2026, 12, 22, 12), utc(2026, 12, 23, 12), utc(2027, 1, 1, 12)]


def test_yearly_dates_repeat_every_year_and_29_february_only_in_leap_years():
    annual = CalendarRules("annual", yearly_dates=frozenset({(12, 25), (2, 29)}))
    job = Schedule("0 0 12 * * ?", "UTC", calendars=(annual,))
    assert fires(job, utc(2027, 2, 27), 3) == [
        utc(2027, 2, 27, 12),
        utc(2027, 2, 28, 12),
        utc(2027, 3, 1, 12),
    ]
    assert fires(job, utc(2028, 2, 27), 3) == [
        utc(2028, 2, 27, 12),
        utc(2028, 2, 28, 12),
        utc(2028, 3, 1, 12),
    ]
    assert utc(2028, 2, 29, 12) not in fires(job, utc(2028, 2, 1), 40)
    for year in (2026, 2027, 2030):
        assert utc(year, 12, 25, 12) not in fires(job, utc(year, 12, 20), 10)


def test_a_cron_calendar_excludes_the_seconds_it_selects_from_an_every_second_interval():
    first_half = CalendarRules("first-half", cron_expressions=("0-29 * * * * ?",))
    job = Schedule(interval=1, calendars=(first_half,))
    found = fires(job, utc(2026, 5, 1, 10, 0, 50), 20)
    assert [f.second for f in found] == [*range(51, 60), *range(30, 41)]
    assert found[9] == utc(2026, 5, 1, 10, 1, 30)
    assert found == expected(job, utc(2026, 5, 1, 10, 0, 50), 20)


def test_a_cron_calendar_of_whole_hours_is_skipped_in_few_steps_and_matches_the_oracle():
    nights = CalendarRules("nights", cron_expressions=("* * 0-6,22-23 ? * *",))
    job = Schedule(interval=1, timezone="Europe/Berlin", calendars=(nights,))
    found = fires(job, utc(2026, 6, 1, 19, 59, 58), 3)  # 21:59:58 in Berlin (CEST)
    assert found == [utc(2026, 6, 1, 19, 59, 59), utc(2026, 6, 2, 5), utc(2026, 6, 2, 5, 0, 1)]


def test_dates_are_read_on_the_job_zone_clock():
    independence = CalendarRules("us", dates=frozenset({date(2026, 7, 4)}))
    hourly = Schedule(interval=3600, timezone="America/New_York", calendars=(independence,))
    found = fires(hourly, utc(2026, 7, 4, 2), 3)
    # 4 July runs from 04:00Z to the next 04:00Z in New York (EDT, UTC-4).
    assert found == [utc(2026, 7, 4, 3), utc(2026, 7, 5, 4), utc(2026, 7, 5, 5)]
    in_utc = Schedule(interval=3600, timezone="UTC", calendars=(independence,))
    assert fires(in_utc, utc(2026, 7, 3, 22), 3) == [utc(2026, 7, 3, 23), utc(2026, 7, 5), utc(2026, 7, 5, 1)]


@pytest.mark.parametrize(
    ("zone", "after"),
    [
        ("Europe/Berlin", utc(2026, 3, 28, 22)),  # spring forward: 02:00-03:00 does not exist
        ("Europe/Berlin", utc(2026, 10, 24, 22)),  # fall back: 02:00-03:00 twice
        ("America/Santiago", utc(2026, 9, 5, 20)),  # a day that starts at 01:00 (no midnight)
        ("Australia/Lord_Howe", utc(2026, 4, 4, 12)),  # a half-hour change
        ("Asia/Kolkata", utc(2026, 1, 1)),  # a half-hour offset
    ],
)
def test_every_kind_across_daylight_saving_changes_matches_the_oracle(zone, after):
    local_day = after.astimezone(ZoneInfo(zone)).date()
    calendar = CalendarRules(
        "mixed",
        dates=frozenset({local_day + timedelta(days=1)}),
        yearly_dates=frozenset(
            {((local_day + timedelta(days=3)).month, (local_day + timedelta(days=3)).day)}
        ),
        date_ranges=((local_day + timedelta(days=5), local_day + timedelta(days=6)),),
        cron_expressions=("* 0-44 2 ? * *", "0-9 * 12 ? * *"),
    )
    every_quarter = Schedule(interval=900, timezone=zone, calendars=(calendar,))
    assert fires(every_quarter, after, 500) == expected(every_quarter, after, 500)
    seconds = Schedule("*/7 * * ? * *", zone, calendars=(calendar,))
    assert fires(seconds, after, 300) == expected(seconds, after, 300)


def test_both_instants_of_a_repeated_hour_are_excluded_by_a_cron_of_that_hour():
    two_oclock = CalendarRules("two", cron_expressions=("* * 2 ? * *",))
    job = Schedule(interval=1800, timezone="Europe/Berlin", calendars=(two_oclock,))
    found = fires(job, utc(2026, 10, 24, 23), 4)  # 01:00 CEST
    # 01:30 CEST, then 02:00/02:30 CEST and 02:00/02:30 CET are excluded, then 03:00 CET.
    assert found == [
        utc(2026, 10, 24, 23, 30),
        utc(2026, 10, 25, 2),
        utc(2026, 10, 25, 2, 30),
        utc(2026, 10, 25, 3),
    ]


def test_a_calendar_that_excludes_everything_ends_the_search_with_a_clear_error():
    always = CalendarRules("always", cron_expressions=("* * * ? * *",))
    with pytest.raises(ExcludedEverything, match="'always' exclude every fire"):
        next_fire_time(Schedule(interval=1, calendars=(always,)), utc(2026, 1, 1))
    every_day = CalendarRules("every-day", yearly_dates=frozenset((d.month, d.day) for d in _days_of(2028)))
    with pytest.raises(ExcludedEverything):
        next_fire_time(Schedule("0 0 12 * * ?", calendars=(every_day,)), utc(2026, 1, 1))


def _days_of(year: int) -> list[date]:
    return [date(year, 1, 1) + timedelta(days=n) for n in range(366 if year % 4 == 0 else 365)]


def test_a_range_to_the_end_of_time_leaves_no_fire():
    forever = CalendarRules("forever", date_ranges=((date(2026, 1, 1), date(9999, 12, 31)),))
    assert next_fire_time(Schedule(interval=60, calendars=(forever,)), utc(2026, 1, 1)) is None
    # Ending at the horizon (the last day's midnight) is as late: the search stops there.
    to_horizon = CalendarRules("to-horizon", date_ranges=((date(2026, 1, 1), date(9999, 12, 30)),))
    assert next_fire_time(Schedule(interval=60, calendars=(to_horizon,)), utc(2026, 1, 1)) is None


def test_an_excluded_one_shot_does_not_fire():
    day = CalendarRules("day", dates=frozenset({date(2026, 5, 1)}))
    one_shot = Schedule(start_time=utc(2026, 5, 1, 9), calendars=(day,))
    assert next_fire_time(one_shot, utc(2026, 4, 30)) is None
    assert next_fire_time(Schedule(start_time=utc(2026, 5, 2, 9), calendars=(day,)), utc(2026, 4, 30)) == utc(
        2026, 5, 2, 9
    )


def test_jitter_delays_only_the_fires_that_are_left():
    day = CalendarRules("day", dates=frozenset({date(2026, 5, 2)}))
    job = Schedule("0 0 12 * * ?", jitter=600, jitter_key="j", calendars=(day,))
    found = fires(job, utc(2026, 5, 1), 2)
    assert [f.date() for f in found] == [date(2026, 5, 1), date(2026, 5, 3)]
    assert all(
        timedelta(0) <= f - f.replace(minute=0, second=0, microsecond=0) <= timedelta(seconds=600)
        for f in found
    )


def test_catch_up_after_a_pause_skips_the_excluded_fires_too():
    odd = CalendarRules("odd-minutes", cron_expressions=("* 1/2 * ? * *",))
    job = Schedule("0 * * ? * *", calendars=(odd,))
    due = next_fire_time(job, utc(2026, 5, 1, 9, 59, 30))
    plan = plan_due_job(
        job, due, utc(2026, 5, 1, 10, 5, 30), misfire_policy="do_nothing", threshold=timedelta(hours=1)
    )
    assert [f.scheduled for f in plan.fires] == [
        utc(2026, 5, 1, 10),
        utc(2026, 5, 1, 10, 2),
        utc(2026, 5, 1, 10, 4),
    ]
    assert plan.next_fire_time == utc(2026, 5, 1, 10, 6)


def test_cron_matches_reads_the_second_on_the_zone_clock():
    expression = CronExpression("* 30 9 ? * MON-FRI")
    monday_berlin = datetime(2026, 6, 1, 9, 30, 15, tzinfo=ZoneInfo("Europe/Berlin"))
    assert expression.matches(monday_berlin, "Europe/Berlin")
    assert not expression.matches(monday_berlin, "UTC")  # 07:30 in UTC
    assert expression.matches(monday_berlin.replace(microsecond=999_999), "Europe/Berlin")
    assert not expression.matches(datetime(2026, 6, 6, 9, 30, tzinfo=UTC), "UTC")  # a Saturday


# -- the scheduler's claim ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_claim_skips_excluded_fires_and_a_job_whose_search_gives_up_stops_alone(caplog):

    calendars.save_calendar("odd-seconds", {"cron_expressions": ["1/2 * * ? * *"]})
    calendars.save_calendar("always", {"cron_expressions": ["* * * ? * *"]})
    now = utc(2026, 5, 1, 10, 0, 5)
    make_due_job("even", due=utc(2026, 5, 1, 10, 0, 0), calendars=["odd-seconds"])
    make_due_job("stuck", due=utc(2026, 5, 1, 10, 0, 0), calendars=["always"])  # written past the rules
    claim = store.claim_due(now, node="test:1", limit=10, threshold=timedelta(seconds=60))
    assert claim.jobs == 2
    even = Execution.objects.filter(job_id="even").order_by("scheduled_fire_time")
    assert [e.scheduled_fire_time for e in even] == [utc(2026, 5, 1, 10, 0, s) for s in (0, 2, 4)]
    assert not Execution.objects.filter(job_id="stuck").exists()
    assert Job.objects.get(pk="even").next_fire_time == utc(2026, 5, 1, 10, 0, 6)
    assert Job.objects.get(pk="stuck").next_fire_time is None
    assert "Job stuck has no next fire and stops" in caplog.text
