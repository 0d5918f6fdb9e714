"""Property tests: the engine's jumping search against a brute-force matcher."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_scheduler_api.cron import CronExpression
from django_scheduler_api.cron.zones import lenient
from tests.cron import generate
from tests.cron.brute_force import date_and_time_match, matches

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WINDOW = timedelta(days=2)

expressions = st.integers(0, 2**32).map(lambda seed: generate.expression(random.Random(seed)))
anywhere = st.datetimes(
    min_value=datetime(2019, 1, 1), max_value=datetime(2034, 12, 31), timezones=st.just(UTC)
)
near_transitions = st.builds(
    lambda instant, offset: datetime.fromtimestamp(instant - offset, UTC),
    st.sampled_from(sorted({t for z in generate.ZONES for t in generate.transitions(z)})),
    st.integers(-2 * 3600, 2 * 86400),
)
starts = st.one_of(anywhere, near_transitions)
# Zones whose transitions are whole hours at hour boundaries: there Quartz's lenient
# calendar never steps over an existing time, so "first match on the wall clock,
# second occurrence of repeated times" is the whole rule. (Lord Howe's 30-minute
# shifts are covered by the differential tests against Quartz.)
plain_zones = st.sampled_from(("UTC", "Asia/Kolkata", "Europe/Berlin", "America/New_York"))


def is_fire_instant(expr: CronExpression, instant: datetime, zone: ZoneInfo, start: datetime) -> bool:
    """Quartz's rule for a real instant after ``start``.

    Its wall time matches, it is not the first occurrence of a repeated time, and
    its wall time is later than the start's: Quartz searches on the wall clock, so
    from 02:59 CEST on an autumn night it does not go back to 02:45 CET.
    """
    local = instant.astimezone(zone)
    wall = local.replace(tzinfo=None)
    if not matches(expr.parsed, wall) or wall <= start.astimezone(zone).replace(tzinfo=None):
        return False
    return local.fold == 1 or local.utcoffset() == local.replace(fold=1).utcoffset()


@SETTINGS
@given(expressions, starts, st.sampled_from(generate.ZONES))
def test_next_fire_time_is_later_and_matches(text: str, start: datetime, zone: str) -> None:
    expr = CronExpression(text)
    found = expr.next_fire_time(start, zone)
    if found is None:
        return
    assert found > start
    assert found.utcoffset() is not None and str(found.tzinfo) == zone
    assert matches(expr.parsed, found.replace(tzinfo=None))
    back = found.astimezone(UTC).astimezone(ZoneInfo(zone))
    assert back.replace(tzinfo=None) == found.replace(tzinfo=None), "a time in a gap fired"


@SETTINGS
@given(expressions, starts.map(lambda s: s.replace(second=0, microsecond=0)), plain_zones)
def test_no_fire_time_is_skipped(text: str, start: datetime, zone_name: str) -> None:
    """Scan every second up to the answer (within a window) for a missed match."""
    expr, zone = CronExpression(text), ZoneInfo(zone_name)
    found = expr.next_fire_time(start, zone)
    end = start + WINDOW if found is None else min(found, start + WINDOW)
    minute = start
    while minute < end:
        local = minute.astimezone(zone).replace(tzinfo=None)
        if date_and_time_match(expr.parsed, local):
            for second in range(60):
                instant = minute + timedelta(seconds=second)
                if start < instant < end:
                    skipped = is_fire_instant(expr, instant, zone, start)
                    assert not skipped, f"{instant} was skipped"
        minute += timedelta(minutes=1)
    if found is not None and found <= start + WINDOW:
        assert is_fire_instant(expr, found, zone, start)


@SETTINGS
@given(expressions, starts)
def test_fast_and_stepwise_searches_agree(text: str, start: datetime) -> None:
    """Without DST both searches must find the same wall time."""
    expr = CronExpression(text)
    wall = (start.year, start.month, start.day, start.hour, start.minute, start.second)
    search = expr._search
    assert search.fast(wall) == search.stepwise(wall, lambda w: w)


@SETTINGS
@given(expressions, starts, st.sampled_from(generate.ZONES))
def test_fire_times_increase_and_stop_by_2099(text: str, start: datetime, zone: str) -> None:
    times = []
    for moment in CronExpression(text).fire_times(start, zone):
        times.append(moment)
        if len(times) == 5:
            break
    assert times == sorted(set(times))
    assert all(t.year <= 2099 for t in times)


@SETTINGS
@given(expressions)
def test_normalised_text_parses_to_the_same_schedule(text: str) -> None:
    expr = CronExpression(text)
    again = CronExpression(expr.expression.lower())
    assert again.parsed == expr.parsed
    assert again == expr


def test_lenient_reading_moves_gap_times_forward() -> None:
    """Java's calendar reads 02:30 on Berlin's spring day as 03:30."""
    berlin = ZoneInfo("Europe/Berlin")
    assert lenient((2026, 3, 29, 2, 30, 0), berlin) == (2026, 3, 29, 3, 30, 0)
    assert lenient((2026, 10, 25, 2, 30, 0), berlin) == (2026, 10, 25, 2, 30, 0)
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    assert lenient((2026, 10, 4, 2, 15, 0), lord_howe) == (2026, 10, 4, 2, 45, 0)
