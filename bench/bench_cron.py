"""Next-fire-time throughput of the cron engine against croniter, on the same schedules.

Run from the repository root:

    .venv/bin/python bench/bench_cron.py [--repeat 5] [--count 300]

Each schedule is written twice, in Quartz syntax for the engine and in croniter's
(Unix fields, seconds last, day-of-week 0 = Sunday). For every schedule and zone
both walk ``count`` successive fire times from 2026-01-01 (croniter with its own
iterator, the engine with ``next_fire_time`` on the previous result); the best of
``repeat`` runs counts. A second measure ("one-shot") builds the expression from its
text and asks for one fire time, from each of a set of start instants, as a
scheduler does for each stored job; the engine caches parsed text, so "cold"
repeats it with that cache emptied before every call.
The first fire times of both are compared, so the two really answer the same
question. Prints per-schedule figures and the overall ratio croniter / engine.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from croniter import croniter

from django_scheduler_api.cron import CronExpression
from django_scheduler_api.cron.expression import _compile_text

# (name, Quartz expression, croniter expression)
SCHEDULES = [
    ("every 10 seconds", "*/10 * * * * ?", "* * * * * */10"),
    ("every 5 minutes", "0 */5 * * * ?", "*/5 * * * *"),
    ("hourly at :30", "0 30 * * * ?", "30 * * * *"),
    ("weekdays 10:15", "0 15 10 ? * MON-FRI", "15 10 * * mon-fri"),
    ("daily at midnight", "0 0 0 * * ?", "0 0 * * *"),
    ("1st and 15th at noon", "0 0 12 1,15 * ?", "0 12 1,15 * *"),
    ("every 5 days at noon", "0 0 12 1/5 * ?", "0 12 1/5 * *"),
    ("last day of the month", "0 0 0 L * ?", "0 0 L * *"),
    ("third Friday 09:00", "0 0 9 ? * 6#3", "0 9 * * 5#3"),
    ("night hours, quarter past", "0 15 1-4 * * ?", "15 1-4 * * *"),
]
ZONES = ["UTC", "Europe/Berlin", "America/New_York"]
START = datetime(2026, 1, 1, tzinfo=UTC)


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The shortest of ``repeat`` timings, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best


def engine_walk(quartz: str, zone: ZoneInfo, count: int) -> list[datetime]:
    expr = CronExpression(quartz)
    times, current = [], START
    for _ in range(count):
        current = expr.next_fire_time(current, zone)
        times.append(current)
    return times


def croniter_walk(unix: str, zone: ZoneInfo, count: int) -> list[datetime]:
    iterator = croniter(unix, START.astimezone(zone))
    return [iterator.get_next(datetime) for _ in range(count)]


def starts(count: int) -> list[datetime]:
    """Start instants spread over two years, at odd seconds."""
    return [START + timedelta(seconds=7919 * 3607 * i % (2 * 365 * 86400)) for i in range(count)]


def engine_one_shot(quartz: str, zone: ZoneInfo, instants: list[datetime]) -> None:
    for instant in instants:
        CronExpression(quartz).next_fire_time(instant, zone)


def engine_cold(quartz: str, zone: ZoneInfo, instants: list[datetime]) -> None:
    """One-shot with the engine's parse cache emptied every time: parsing counts in full."""
    for instant in instants:
        _compile_text.cache_clear()
        CronExpression(quartz).next_fire_time(instant, zone)


def croniter_one_shot(unix: str, zone: ZoneInfo, instants: list[datetime]) -> None:
    for instant in instants:
        croniter(unix, instant.astimezone(zone)).get_next(datetime)


def check_same_answers(name: str, quartz: str, unix: str, zone: ZoneInfo) -> None:
    ours = [t.astimezone(UTC) for t in engine_walk(quartz, zone, 20)]
    theirs = [t.astimezone(UTC) for t in croniter_walk(unix, zone, 20)]
    if ours != theirs:
        sys.exit(f"{name} in {zone}: engine and croniter disagree: {ours[:3]} vs {theirs[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--count", type=int, default=300, help="fire times per walk")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, best of {args.repeat}")
    print(f"{'schedule':28}{'zone':18}{'croniter us':>12}{'engine us':>11}{'ratio':>7}")
    totals = {"walk": [0.0, 0.0], "one-shot": [0.0, 0.0], "cold": [0.0, 0.0]}
    instants = starts(args.count)
    for name, quartz, unix in SCHEDULES:
        for zone_name in ZONES:
            zone = ZoneInfo(zone_name)
            check_same_answers(name, quartz, unix, zone)
            theirs = best_of(args.repeat, lambda u=unix, z=zone: croniter_walk(u, z, args.count))
            ours = best_of(args.repeat, lambda q=quartz, z=zone: engine_walk(q, z, args.count))
            totals["walk"][0] += theirs
            totals["walk"][1] += ours
            per_c, per_e = theirs / args.count * 1e6, ours / args.count * 1e6
            print(f"{name:28}{zone_name:18}{per_c:12.1f}{per_e:11.1f}{theirs / ours:7.1f}")
            theirs = best_of(args.repeat, lambda u=unix, z=zone: croniter_one_shot(u, z, instants))
            ours = best_of(args.repeat, lambda q=quartz, z=zone: engine_one_shot(q, z, instants))
            totals["one-shot"][0] += theirs
            totals["one-shot"][1] += ours
            totals["cold"][0] += theirs
            totals["cold"][1] += best_of(args.repeat, lambda q=quartz, z=zone: engine_cold(q, z, instants))
    for measure, (theirs, ours) in totals.items():
        ratio = theirs / ours
        print(f"{measure:9} overall: croniter {theirs:.3f} s, engine {ours:.3f} s, ratio {ratio:.1f}x")


if __name__ == "__main__":
    main()
