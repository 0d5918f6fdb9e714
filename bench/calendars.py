"""What calendars cost the fire-time search: each schedule with its calendar beside the same
schedule without it, as a ratio (docs/scheduling.rst, "Calendars").

Run from the repository root:

    .venv/bin/python bench/calendars.py [--repeat 5] [--count 2000]

For each case ``planning.next_fire_time`` walks ``count`` successive fires from 2026-01-01 with and
without the calendar (best of ``repeat`` runs) and prints microseconds per fire and the ratio. The
last line times the refusal of a calendar that excludes everything (the bounded search giving up).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # planning imports the models
django.setup()

from django_scheduler_api.planning import (  # noqa: E402
    CalendarRules,
    ExcludedEverything,
    Schedule,
    next_fire_time,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
HOLIDAYS = CalendarRules(
    "holidays",
    dates=frozenset(date(2026, 1, 1) + timedelta(days=d) for d in range(0, 365, 12)),
    yearly_dates=frozenset({(12, 25), (12, 26), (1, 1), (5, 1)}),
    date_ranges=((date(2026, 12, 24), date(2026, 12, 31)),),
)
NIGHTS = CalendarRules("nights", cron_expressions=("* * 0-6,22-23 ? * *",))
THIRDS = CalendarRules("thirds", cron_expressions=("0/3 * * * * ?",))
BERLIN = "Europe/Berlin"
CASES = [
    ("weekdays 09:00, 30 holidays (Berlin)", Schedule("0 0 9 ? * MON-FRI", BERLIN, calendars=(HOLIDAYS,))),
    ("every second, nights excluded (Berlin)", Schedule(interval=1, timezone=BERLIN, calendars=(NIGHTS,))),
    ("every second, every third second excluded", Schedule("* * * ? * *", calendars=(THIRDS,))),
    ("every 15 min, holidays and nights", Schedule(interval=900, timezone=BERLIN, calendars=(HOLIDAYS, NIGHTS))),  # noqa: E501
]  # fmt: skip
EVERYTHING = CalendarRules("all", cron_expressions=("* * * ? * *",))


def walk(schedule: Schedule, count: int) -> None:
    after = START
    for _ in range(count):
        after = next_fire_time(schedule, after, previous_fire_time=after)


def best_of(repeat: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best


def refusal() -> None:
    try:
        next_fire_time(
            Schedule(interval=1, calendars=(CalendarRules("all", cron_expressions=("* * * ? * *",)),)), START
        )
    except ExcludedEverything:
        return
    raise AssertionError("a calendar excluding everything was not refused")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()} on {platform.machine()}: "
        f"{args.count} fires, best of {args.repeat}"
    )
    print(f"{'case':45} {'plain µs':>9} {'calendar µs':>12} {'ratio':>6}")
    for name, schedule in CASES:
        bare = replace(schedule, calendars=())
        plain = best_of(args.repeat, lambda s=bare: walk(s, args.count))
        with_calendar = best_of(args.repeat, lambda s=schedule: walk(s, args.count))
        per = 1e6 / args.count
        print(f"{name:45} {plain * per:9.1f} {with_calendar * per:12.1f} {with_calendar / plain:6.1f}")
    print(f"refusal of a calendar excluding everything: {best_of(args.repeat, refusal) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
