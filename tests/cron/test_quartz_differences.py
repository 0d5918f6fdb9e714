"""Each documented difference from Quartz 2.3.2 (docs/cron.rst, "Differences from Quartz").

The engine side is pinned without Java; the Quartz side is pinned against the
real Quartz, so a future Quartz (or a wrong note in the docs) shows up here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

import pytest

from django_scheduler_api.cron import CronError, CronExpression
from tests.cron.known_differences import explain
from tests.cron.quartz_oracle import QuartzOracle, Request

START = datetime(2026, 1, 1, tzinfo=UTC)

# text, the documented difference, Quartz's first fire times after START in UTC (None: HANG/CRASH)
REFUSED_HERE = [
    ("0 0 0 * * ? * X", "extra fields", ["2026-01-02T00:00"]),
    ("5X * * * * ?", "characters Quartz ignores", ["2026-01-01T00:00:05"]),
    ("*5 * * * * ?", "characters Quartz ignores", ["2026-01-01T00:00:01"]),
    ("0 0 0 ? * MONDAY", "characters Quartz ignores", ["2026-01-05T00:00"]),
    ("0 0 0 1-5W * ?", "characters Quartz ignores", ["2026-01-02T00:00"]),
    ("0 0 0 ?X * MON", "characters Quartz ignores", ["2026-01-05T00:00"]),
    ("0 0 0 ? * LW", "characters Quartz ignores", ["2026-01-03T00:00"]),
    ("0 0 0 ? * L-3", "characters Quartz ignores", ["2026-01-03T00:00"]),
    ("L * * * * ?", "characters Quartz ignores", None),
    ("5,,6 * * * * ?", "empty list items", ["2026-01-01T00:00:05"]),
    ("0 0 0 ? * MON-FRI/2", "steps after names", ["2026-01-02T00:00"]),
    ("0 0 0 ? JAN/3 *", "steps after names", ["2026-01-02T00:00"]),
    ("0 */0 * * * ?", "steps Quartz misreads", ["2026-01-01T00:01"]),
    ("0 5/0 * * * ?", "steps Quartz misreads", ["2026-01-01T00:05"]),
    ("0 0-10/90 * * * ?", "steps Quartz misreads", ["2026-01-01T01:00"]),
    ("0 0 0 ? * 8#2", "values Quartz does not check", []),
    ("0 0 0 0W * ?", "values Quartz does not check", None),
    ("0 0 0 5-0 * ?", "values Quartz does not check", ["2026-01-05T00:00"]),
    ("0 0 0 ? * 5-0", "values Quartz does not check", ["2026-01-02T00:00"]),
    ("0 0 0 1W,15 * ?", "L, W and # in lists", ["2026-02-02T00:00"]),
    ("0 0 0 ? * 6#3,2", "L, W and # in lists", ["2026-01-19T00:00"]),
    ("0 0 0 * * ? 1969", "years outside 1970-2099", []),
    ("0 0 0 * * ? 2150", "years outside 1970-2099", []),
]


def first_fire_utc(expression: str, count: int = 1) -> list[str]:
    times = islice(CronExpression(expression).fire_times(START), count)
    return [t.astimezone(UTC).isoformat()[:19] for t in times]


@pytest.mark.parametrize(("text", "label", "quartz_times"), REFUSED_HERE)
def test_engine_refuses_what_quartz_misreads(text: str, label: str, quartz_times: object) -> None:
    with pytest.raises(CronError) as caught:
        CronExpression(text)
    assert explain(caught.value) == label


@pytest.mark.parametrize(("text", "label", "quartz_times"), REFUSED_HERE)
def test_quartz_accepts_it(
    quartz: QuartzOracle, text: str, label: str, quartz_times: list[str] | None
) -> None:
    answer = quartz.ask([Request(text, int(START.timestamp()), "UTC", 1)])[0]
    if quartz_times is None:
        assert answer.kind in ("HANG", "CRASH")
    else:
        assert answer.kind == "OK"
        width = len(quartz_times[0]) if quartz_times else 0
        got = [datetime.fromtimestamp(t, UTC).isoformat()[:width] for t in answer.times]
        assert got == quartz_times


def test_nearest_weekday_to_a_missing_day_skips_the_month() -> None:
    """``31W`` has no 31st in April: the engine skips April; Quartz overflows into May."""
    assert CronExpression("0 0 0 31W 4 ?").next_fire_time(START) is None
    assert first_fire_utc("0 0 0 29W 2 ?", 2) == ["2028-02-29T00:00:00", "2032-02-27T00:00:00"]


def test_quartz_nearest_weekday_overflows(quartz: QuartzOracle) -> None:
    """Quartz reads April 31 as May 1; when that is a Saturday it fires on Friday April 30."""
    answers = quartz.ask(
        [
            Request("0 0 0 31W 4 ?", int(START.timestamp()), "UTC", 1),
            Request("0 0 0 29W 2 ?", int(START.timestamp()), "UTC", 2),
        ]
    )
    assert [datetime.fromtimestamp(t, UTC).date().isoformat() for t in answers[0].times] == ["2027-04-30"]
    assert [datetime.fromtimestamp(t, UTC).date().isoformat() for t in answers[1].times] == [
        "2028-02-29",
        "2031-02-28",
    ]


def test_last_weekday_offset_before_the_first_skips_the_month() -> None:
    """``L-28W``: February has no such day and is skipped; Quartz loops forever."""
    assert first_fire_utc("0 0 0 L-28W 2 ?", 2) == ["2028-02-01T00:00:00", "2032-02-02T00:00:00"]
    assert first_fire_utc("0 0 0 L-30W * ?", 2) == ["2026-03-02T00:00:00", "2026-05-01T00:00:00"]


def test_quartz_loops_on_last_weekday_offset_before_the_first(quartz: QuartzOracle) -> None:
    answers = quartz.ask([Request("0 0 0 L-28W 2 ?", int(START.timestamp()), "UTC", 1)])
    assert answers[0].kind == "HANG"


def test_schedules_end_with_2099() -> None:
    """The engine's years stop at 2099 (Quartz's documented range); Quartz's '*' runs on."""
    last = datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert CronExpression("0 0 0 * * ?").next_fire_time(last) is None
    day_before = datetime(2099, 12, 30, tzinfo=UTC)
    assert CronExpression("0 0 0 * * ?").next_fire_time(day_before) is not None


def test_quartz_runs_past_2099(quartz: QuartzOracle) -> None:
    start = int(datetime(2099, 12, 31, 12, tzinfo=UTC).timestamp())
    answer = quartz.ask([Request("0 0 0 * * ?", start, "UTC", 1)])[0]
    assert [datetime.fromtimestamp(t, UTC).year for t in answer.times] == [2100]


def test_sub_second_start_is_deterministic_with_w() -> None:
    """Quartz's ``W`` check reads its own clock's milliseconds; the engine drops them first."""
    expr = CronExpression("0 0 0 15W * ?")
    whole = datetime(2026, 1, 14, 23, 59, 59, tzinfo=UTC)
    assert expr.next_fire_time(whole.replace(microsecond=999_000)) == expr.next_fire_time(whole)
