"""The examples of docs/cron.rst, pinned as named cases (checked against Quartz 2.3.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

import pytest

from django_scheduler_api.cron import CronExpression


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fires(expression: str, after: datetime, count: int, tz: str = "UTC") -> list[str]:
    """The next ``count`` fire times as UTC ISO strings, easy to read in a failure."""
    times = islice(CronExpression(expression).fire_times(after, tz), count)
    return [t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in times]


def test_last_friday_2016_to_2020() -> None:
    """``6L`` is the last Friday; the year field ends the schedule after 2020."""
    assert fires("0 15 10 ? * 6L 2016-2020", utc(2016, 1, 1), 3) == [
        "2016-01-29T10:15:00Z",
        "2016-02-26T10:15:00Z",
        "2016-03-25T10:15:00Z",
    ]
    expr = CronExpression("0 15 10 ? * 6L 2016-2020")
    assert expr.next_fire_time(utc(2020, 12, 25, 10, 15)) is None
    assert len(list(expr.fire_times(utc(2016, 1, 1)))) == 60


def test_every_five_days_from_the_first() -> None:
    """``1/5`` in day-of-month restarts on the 1st of each month (31 then 1)."""
    assert fires("0 0 12 1/5 * ?", utc(2026, 1, 25), 4) == [
        "2026-01-26T12:00:00Z",
        "2026-01-31T12:00:00Z",
        "2026-02-01T12:00:00Z",
        "2026-02-06T12:00:00Z",
    ]


def test_wednesdays_in_march() -> None:
    """Day-of-week 4 is Wednesday in Quartz (1 = Sunday)."""
    assert fires("0 10,44 14 ? 3 4", utc(2026, 1, 1), 3) == [
        "2026-03-04T14:10:00Z",
        "2026-03-04T14:44:00Z",
        "2026-03-11T14:10:00Z",
    ]


def test_two_days_before_the_last_day() -> None:
    assert fires("0 15 10 L-2 * ?", utc(2024, 1, 1), 3) == [
        "2024-01-29T10:15:00Z",
        "2024-02-27T10:15:00Z",
        "2024-03-29T10:15:00Z",
    ]


def test_every_second() -> None:
    assert fires("* * * * * ?", utc(2026, 1, 1, 0, 0, 59), 2) == [
        "2026-01-01T00:01:00Z",
        "2026-01-01T00:01:01Z",
    ]


def test_berlin_spring_gap_is_skipped() -> None:
    """02:30 does not exist in Berlin on 2026-03-29: no fire that day."""
    assert fires("0 30 2 * * ?", utc(2026, 3, 28, 12), 2, "Europe/Berlin") == [
        "2026-03-30T00:30:00Z",
        "2026-03-31T00:30:00Z",
    ]


def test_berlin_autumn_overlap_fires_in_the_second_occurrence() -> None:
    """On 2026-10-25 02:30 happens twice in Berlin; Quartz fires at 01:30Z only."""
    assert fires("0 30 2 * * ?", utc(2026, 10, 24, 12), 2, "Europe/Berlin") == [
        "2026-10-25T01:30:00Z",
        "2026-10-26T01:30:00Z",
    ]


def test_berlin_autumn_half_hours_jump_the_first_occurrence() -> None:
    assert fires("0 */30 * * * ?", utc(2026, 10, 24, 23, 0), 4, "Europe/Berlin") == [
        "2026-10-24T23:30:00Z",
        "2026-10-25T01:00:00Z",
        "2026-10-25T01:30:00Z",
        "2026-10-25T02:00:00Z",
    ]


def test_results_are_aware_in_the_requested_zone() -> None:
    result = CronExpression("0 15 10 ? * 2-6").next_fire_time(utc(2026, 10, 24), "Europe/Berlin")
    assert result is not None
    assert str(result.tzinfo) == "Europe/Berlin"
    assert (result.hour, result.minute, result.weekday()) == (10, 15, 0)


def test_impossible_schedule_ends() -> None:
    assert CronExpression("0 0 0 30 2 ?").next_fire_time(utc(2026, 1, 1)) is None


def test_naive_after_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        CronExpression("* * * * * ?").next_fire_time(datetime(2026, 1, 1))


# Cases of the search's less travelled paths (each checked against Quartz 2.3.2 when written).


def test_new_year_is_found_from_any_month() -> None:
    """The search runs out of months and moves to the next year's 1 January at midnight."""
    assert fires("0 0 0 1 1 ?", utc(2026, 3, 2, 10), 2) == ["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"]
    assert fires("0 0 0 1 1 ?", utc(2026, 10, 24, 12), 1, "Europe/Berlin") == ["2026-12-31T23:00:00Z"]


def test_a_daylight_saving_day_in_2099_still_fires() -> None:
    """2099 is Quartz's last year, not past it: its spring-forward day is searched like any other."""
    assert fires("0 30 2 * * ?", utc(2099, 3, 28, 12), 2, "Europe/Berlin") == [
        "2099-03-30T00:30:00Z",
        "2099-03-31T00:30:00Z",
    ]
    assert fires("0 0 1 * * ?", utc(2099, 3, 28, 12), 1, "Europe/Berlin") == ["2099-03-29T00:00:00Z"]


def test_an_hour_moved_by_the_gap_then_the_next_selected_hour() -> None:
    """Quartz sets 02:00 on Berlin's spring-forward day, reads 03:00, and fires at 03:00 CEST."""
    assert fires("0 0 2,3 * * ?", utc(2026, 3, 28, 23, 30), 2, "Europe/Berlin") == [
        "2026-03-29T01:00:00Z",
        "2026-03-30T00:00:00Z",
    ]


def test_a_two_hour_gap_sets_the_following_hour() -> None:
    """Troll jumps from 01:00 to 03:00: Quartz sets 01:00, reads 03:00, sets 02:00 and reads 04:00
    (``setCalendarHour``), so the 03:00 fire of that day is passed over."""
    assert fires("0 0 1,3,4 * * ?", utc(2026, 3, 28, 12), 2, "Antarctica/Troll") == [
        "2026-03-29T02:00:00Z",
        "2026-03-29T23:00:00Z",
    ]


@pytest.mark.parametrize(
    ("text", "start", "found"),
    [
        ("0 0 0 1 1 ?", (2026, 3, 2, 10, 0, 0), (2027, 1, 1, 0, 0, 0)),  # months, then December's end
        ("0 0 0 * 1 ?", (2026, 5, 10, 12, 0, 0), (2027, 1, 1, 0, 0, 0)),  # no month left in the year
        ("0 0 5 * * ?", (2026, 1, 31, 6, 0, 0), (2026, 2, 1, 5, 0, 0)),  # no hour left in the day
        ("0 0 0 L * ?", (2026, 12, 31, 1, 0, 0), (2027, 1, 31, 0, 0, 0)),  # no day left in the month
        ("0 * * * * ?", (2026, 1, 1, 0, 0, 30), (2026, 1, 1, 0, 1, 0)),  # no second left in the minute
        ("0 15 * * * ?", (2026, 1, 1, 23, 30, 0), (2026, 1, 2, 0, 15, 0)),  # no minute left at 23:xx
    ],
)
def test_both_searches_carry_into_the_next_day_month_and_year(text: str, start: tuple, found: tuple) -> None:
    """The stepwise search (used on daylight-saving days) restarts at the start of the next minute,
    day, month or year, as the fast search does; without a clock change both find the same wall time."""
    search = CronExpression(text)._search
    assert search.fast(start) == found
    assert search.stepwise(start, lambda wall: wall) == found


def test_nearest_weekday_to_a_saturday() -> None:
    """``15W`` on Saturday 15 August 2026 is Friday the 14th; ``1W`` on Saturday 1 August is Monday
    the 3rd (the Friday before would leave the month)."""
    assert fires("0 0 12 15W * ?", utc(2026, 8, 1), 2) == ["2026-08-14T12:00:00Z", "2026-09-15T12:00:00Z"]
    assert fires("0 0 12 1W * ?", utc(2026, 7, 15), 2) == ["2026-08-03T12:00:00Z", "2026-09-01T12:00:00Z"]


def test_nth_weekday_of_the_month() -> None:
    """``6#3``: the third Friday; ``3#5``: the fifth Tuesday, the month's last day in March 2026, and
    months without one are skipped (the next is June)."""
    assert fires("0 0 12 ? * 6#3", utc(2026, 3, 1), 2) == ["2026-03-20T12:00:00Z", "2026-04-17T12:00:00Z"]
    assert fires("0 0 12 ? * 3#5", utc(2026, 3, 1), 2) == ["2026-03-31T12:00:00Z", "2026-06-30T12:00:00Z"]
