"""Parsing and the public interface: accepted forms, refusals and their sentences."""

from __future__ import annotations

import pickle
import sys
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from django_scheduler_api.cron import CronError, CronExpression, is_unix_expression, to_quartz
from django_scheduler_api.cron.days import (
    DaysOfMonth,
    DaysOfWeek,
    LastDayOfMonth,
    LastDayOfWeek,
    NearestWeekday,
    NthDayOfWeek,
)
from django_scheduler_api.cron.fields import MAX_YEAR


def parsed(text: str):
    return CronExpression(text).parsed


def test_value_sets() -> None:
    p = parsed("0/15 5-10/2 22-2 1,15 nov-feb ?")
    assert p.seconds == {0, 15, 30, 45}
    assert p.minutes == {5, 7, 9}
    assert p.hours == {22, 23, 0, 1, 2}
    assert p.months == {11, 12, 1, 2}
    assert p.day_rule == DaysOfMonth(frozenset({1, 15}))
    assert p.years == frozenset(range(1970, 2100))


def test_wrapping_ranges_with_steps() -> None:
    assert parsed("50-10/5 * * * * ?").seconds == {50, 55, 0, 5, 10}
    assert parsed("0 0 0 25-5/3 * ?").day_rule == DaysOfMonth(frozenset({25, 28, 31, 3}))
    assert parsed("0 0 0 ? * 6-2").day_rule == DaysOfWeek(frozenset({6, 7, 1, 2}))


def test_steps_from_a_value_run_to_the_end_of_the_field() -> None:
    assert parsed("0 0 12 1/5 * ?").day_rule == DaysOfMonth(frozenset({1, 6, 11, 16, 21, 26, 31}))
    assert parsed("/20 * * * * ?").seconds == {0, 20, 40}
    assert parsed("0 0 0 * * ? 2090/5").years == {2090, 2095}


@pytest.mark.parametrize(
    ("dom", "rule"),
    [
        ("L", LastDayOfMonth(0, False)),
        ("L-3", LastDayOfMonth(3, False)),
        ("LW", LastDayOfMonth(0, True)),
        ("L-2W", LastDayOfMonth(2, True)),
        ("15W", NearestWeekday(15)),
        ("l", LastDayOfMonth(0, False)),
    ],
)
def test_day_of_month_specials(dom: str, rule: object) -> None:
    assert parsed(f"0 0 0 {dom} * ?").day_rule == rule


@pytest.mark.parametrize(
    ("dow", "rule"),
    [
        ("6L", LastDayOfWeek(6)),
        ("friL", LastDayOfWeek(6)),
        ("6#3", NthDayOfWeek(6, 3)),
        ("Fri#5", NthDayOfWeek(6, 5)),
        ("L", DaysOfWeek(frozenset({7}))),
        ("MON-FRI", DaysOfWeek(frozenset({2, 3, 4, 5, 6}))),
        ("SUN,sat", DaysOfWeek(frozenset({1, 7}))),
    ],
)
def test_day_of_week_specials(dow: str, rule: object) -> None:
    assert parsed(f"0 0 0 ? * {dow}").day_rule == rule


def test_expression_is_normalised() -> None:
    expr = CronExpression("  0 15\t10 ? * mon-fri  ")
    assert expr.expression == "0 15 10 ? * MON-FRI"
    assert str(expr) == expr.expression
    assert CronExpression("0 0 0 * * ? 2030").expression == "0 0 0 * * ? 2030"


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("0 0 0 ? * 8", "day-of-week", "8 is out of range 1-7 (SUN-SAT)"),
        ("60 * * * * ?", "seconds", "60 is out of range 0-59"),
        ("0 0 24 * * ?", "hours", "24 is out of range 0-23"),
        ("0 0 0 32 * ?", "day-of-month", "32 is out of range 1-31"),
        ("0 0 0 * 13 ?", "month", "13 is out of range 1-12 (JAN-DEC)"),
        ("0 0 0 * FOO ?", "month", "'FOO' is not a month name"),
        ("0 0 0 ? * 6#6", "day-of-week", "'#' must be followed by a number from 1 to 5"),
        ("0 0 0 L-31 * ?", "day-of-month", "offset from the last day must be 30 or less"),
        ("0 */60 * * * ?", "minutes", "'/' must be followed by a whole number from 1 to 59"),
        ("0 0 0 ? * MON-5", "day-of-week", "cannot mix names and numbers"),
        ("0 0 0 * * ? 2030-2020", "year", "ends before it starts"),
        ("0 0 0 L,15 * ?", "day-of-month", "L and W cannot be combined"),
        ("0 0 0 ? * 6L,2", "day-of-week", "L and # cannot be combined"),
        ("? 0 0 * * ?", "seconds", "'?' is only allowed in day-of-month or day-of-week"),
        ("0 0 0 * * *", None, "cannot both be set"),
        ("0 0 0 ? * ?", None, "'?' can only be in one of"),
        ("0 0 0 * *", None, "5-field Unix cron expression"),
        ("0 0 0 * * ? 2030 X", None, "expected 6 or 7 fields"),
        ("", None, "got 0"),
    ],
)
def test_refusals_name_the_field_and_say_why(text: str, field: str | None, message: str) -> None:
    with pytest.raises(CronError) as caught:
        CronExpression(text)
    error = caught.value
    assert error.field == field
    assert message in error.message
    assert str(error) == (f"{field}: {error.message}" if field else error.message)
    assert isinstance(error, ValueError)


def test_the_issue_example_sentence() -> None:
    with pytest.raises(CronError) as caught:
        CronExpression.validate("0 0 12 ? * 8")
    assert str(caught.value) == "day-of-week: 8 is out of range 1-7 (SUN-SAT)"


def test_unix_line_gets_its_quartz_form() -> None:
    with pytest.raises(CronError) as caught:
        CronExpression("*/5 * * * *")
    assert "'0 */5 * * * ?'" in str(caught.value)
    assert is_unix_expression("*/5 * * * *")
    assert not is_unix_expression("0 */5 * * * ?")
    assert to_quartz("30 2 * * 1-5") == "0 30 2 ? * 2-6"
    assert to_quartz("0 0 * * 0,7") == "0 0 0 ? * 1,1"
    assert to_quartz("0 0 1 * 1") is None
    assert CronExpression(to_quartz("15 10 * * */2") or "").expression == "0 15 10 ? * */2"


def test_validate_accepts_and_returns_none() -> None:
    assert CronExpression.validate("0 0 12 * * ?") is None


def test_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(CronError("8 is out of range 1-7 (SUN-SAT)", "day-of-week")))
    assert (error.field, error.message) == ("day-of-week", "8 is out of range 1-7 (SUN-SAT)")


def test_non_text_is_refused() -> None:
    with pytest.raises(CronError):
        CronExpression(None)  # type: ignore[arg-type]
    with pytest.raises(CronError):
        CronExpression.validate(["0", "0", "0", "*", "*", "?"])  # type: ignore[arg-type]


def test_zone_may_be_a_name_or_a_tzinfo() -> None:
    expr = CronExpression("0 0 12 * * ?")
    after = datetime(2026, 7, 1, tzinfo=UTC)
    by_name = expr.next_fire_time(after, "America/New_York")
    by_zone = expr.next_fire_time(after, ZoneInfo("America/New_York"))
    fixed = expr.next_fire_time(after, timezone(timedelta(hours=-4)))
    assert by_name == by_zone == fixed
    assert by_name is not None and by_name.astimezone(UTC).hour == 16
    with pytest.raises(ValueError, match="unknown time zone"):
        expr.next_fire_time(after, "Mars/Olympus_Mons")


def test_sub_second_parts_are_dropped_like_quartz() -> None:
    expr = CronExpression("* * * * * ?")
    after = datetime(2026, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC)
    assert expr.next_fire_time(after) == datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_strictly_after() -> None:
    expr = CronExpression("0 0 12 * * ?")
    noon = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert expr.next_fire_time(noon) == noon + timedelta(days=1)
    assert expr.next_fire_time(noon - timedelta(seconds=1)) == noon


def test_starts_far_in_the_past_or_future() -> None:
    expr = CronExpression("0 0 0 1 1 ?")
    assert expr.next_fire_time(datetime(1900, 6, 1, tzinfo=UTC)) == datetime(1970, 1, 1, tzinfo=UTC)
    assert expr.next_fire_time(datetime.max.replace(tzinfo=UTC)) is None
    assert expr.next_fire_time(datetime.min.replace(tzinfo=UTC)) == datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["0 0 0 30 2 ?", "0 0 0 31 4,6,9,11 ?", "0 0 0 ? 2 1#5 2026", "0 0 0 L-30 2 ?", "0 0 0 31W 4 ?"],
)
def test_impossible_schedules_end_quickly(text: str) -> None:
    """The search gives up after looking at each month of the range once, not each day or second.

    Counted in function calls, which do not depend on how busy the machine is: at most ten a month
    from 1970 to the last year (a day-by-day search makes more than thirty).
    """
    calls = 0

    def count(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        calls += event == "call"

    expression = CronExpression(text)
    sys.setprofile(count)
    try:
        found = expression.next_fire_time(datetime(1970, 1, 1, tzinfo=UTC), "Europe/Berlin")
    finally:
        sys.setprofile(None)
    assert found is None
    assert calls <= 10 * 12 * (MAX_YEAR - 1970 + 1)
