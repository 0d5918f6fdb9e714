"""Deterministic random Quartz expressions, start instants and mutations for the differential tests.

The expressions cover every special character and the edges that break cron
engines: days 28-31 and leap years, ``L-n`` and ``W`` at month ends, ``#5``,
wrapping ranges, steps on ranges, names in any case, year ranges. Start instants
cluster around the DST transitions of the zones under test. Constructs where
Quartz is known to be wrong (see ``docs/cron.rst``) are left out here and pinned
by their own tests.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def _case(rng: random.Random, name: str) -> str:
    return rng.choice((name, name.lower(), name.capitalize()))


def _numeric_item(rng: random.Random, low: int, high: int, edges: tuple[int, ...]) -> str:
    """One list item of a plain numeric field: value, range (maybe wrapping), steps."""

    def value() -> int:
        return rng.choice(edges) if edges and rng.random() < 0.4 else rng.randint(low, high)

    step_limit = {59: 59, 23: 23}.get(high, high - low + 1)
    kind = rng.random()
    if kind < 0.35:
        return str(value())
    if kind < 0.55:
        return f"{value()}-{value()}"
    if kind < 0.7:
        return f"{value()}-{value()}/{rng.randint(1, min(step_limit, 12))}"
    if kind < 0.85:
        return f"{value()}/{rng.randint(1, step_limit)}"
    return f"*/{rng.randint(1, step_limit)}"


def _numeric_field(rng: random.Random, low: int, high: int, edges: tuple[int, ...] = ()) -> str:
    roll = rng.random()
    if roll < 0.15:
        return "*"
    count = 1 if roll < 0.75 else rng.randint(2, 3)
    return ",".join(_numeric_item(rng, low, high, edges) for _ in range(count))


def seconds(rng: random.Random) -> str:
    return "0" if rng.random() < 0.6 else _numeric_field(rng, 0, 59, (0, 30, 59))


def minutes(rng: random.Random) -> str:
    return rng.choice(("0", "30")) if rng.random() < 0.3 else _numeric_field(rng, 0, 59, (0, 15, 30, 45, 59))


def hours(rng: random.Random) -> str:
    return _numeric_field(rng, 0, 23, (0, 1, 2, 3, 23))


def month(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "*"
    if rng.random() < 0.25:
        names = rng.sample(MONTHS, 2)
        return _case(rng, names[0]) + rng.choice((",", "-")) + _case(rng, names[1])
    return _numeric_field(rng, 1, 12, (1, 2, 12))


def day_of_month(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.12:
        return "L"
    if roll < 0.24:
        return f"L-{rng.choice((0, 1, 2, 3, 15, 27, 28, 29, 30))}"
    if roll < 0.32:
        return "LW"
    if roll < 0.4:
        return f"L-{rng.randint(0, 27)}W"
    if roll < 0.5:
        return f"{rng.choice((1, 2, 3, 14, 15, 16, 27, 28, 29, 30, 31, rng.randint(1, 31)))}W"
    return _numeric_field(rng, 1, 31, (1, 28, 29, 30, 31))


def day_of_week(rng: random.Random) -> str:
    roll = rng.random()
    day = rng.randint(1, 7)
    if roll < 0.1:
        return "L"
    if roll < 0.25:
        return f"{day}L" if rng.random() < 0.6 else _case(rng, DAYS[day - 1]) + "L"
    if roll < 0.45:
        nth = rng.choice((1, 2, 3, 4, 5, 5))
        return f"{day}#{nth}" if rng.random() < 0.6 else f"{_case(rng, DAYS[day - 1])}#{nth}"
    if roll < 0.55:
        first, last = rng.sample(DAYS, 2)
        return f"{_case(rng, first)}-{_case(rng, last)}"
    return _numeric_field(rng, 1, 7, (1, 7))


def year(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.6:
        return None
    if roll < 0.7:
        return "*"
    first = rng.randint(2019, 2034)
    if roll < 0.8:
        return str(first)
    if roll < 0.9:
        return f"{first}-{first + rng.randint(0, 8)}"
    if roll < 0.95:
        return f"{first}/{rng.randint(1, 5)}"
    return f"{first},{first + rng.randint(1, 4)},{first + rng.randint(5, 9)}"


def _months_with_day(rng: random.Random, day: int) -> str:
    """Months that have the given day: ``29W``-``31W`` elsewhere are a documented difference."""
    having = [
        m for m, length in enumerate((31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), 1) if length >= day
    ]
    return ",".join(str(m) for m in sorted(rng.sample(having, rng.randint(1, 3))))


def expression(rng: random.Random) -> str:
    """A random valid Quartz expression."""
    if rng.random() < 0.5:
        dom, dow = day_of_month(rng), "?"
    else:
        dom, dow = "?", day_of_week(rng)
    fields = [seconds(rng), minutes(rng), hours(rng), dom, month(rng), dow]
    if dom.endswith("W") and dom[:-1].isdigit() and int(dom[:-1]) > 28:
        fields[4] = _months_with_day(rng, int(dom[:-1]))
    years = year(rng)
    if years is not None:
        fields.append(years)
    return " ".join(fields)


@cache
def transitions(zone_name: str, first_year: int = 2019, last_year: int = 2034) -> tuple[int, ...]:
    """UTC epoch seconds at which the zone's offset changes (found hour by hour, then minute)."""
    zone = ZoneInfo(zone_name)
    found = []
    moment = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(zone).utcoffset()
    step = timedelta(hours=1)
    while moment < end:
        following = moment + step
        if following.astimezone(zone).utcoffset() != offset:
            found.append(_refine(moment, following, zone))
            offset = following.astimezone(zone).utcoffset()
        moment = following
    return tuple(found)


def _refine(before: datetime, after: datetime, zone: ZoneInfo) -> int:
    """The first whole minute with the new offset between two instants an hour apart."""
    offset = before.astimezone(zone).utcoffset()
    moment = before
    while moment.astimezone(zone).utcoffset() == offset:
        moment += timedelta(minutes=1)
    return int(moment.timestamp())


def start_instant(rng: random.Random, zone_name: str) -> int:
    """Epoch seconds to start from: mostly hours before a DST transition, else anywhere."""
    points = transitions(zone_name)
    roll = rng.random()
    if points and roll < 0.7:
        return rng.choice(points) - rng.randint(-6 * 3600, 2 * 86400)
    if roll < 0.85:
        leap = rng.choice((2020, 2024, 2028, 2032))
        return int(datetime(leap, 2, rng.randint(20, 29), tzinfo=UTC).timestamp()) + rng.randint(0, 86399)
    return int(datetime(2019, 1, 1, tzinfo=UTC).timestamp()) + rng.randint(0, 15 * 365 * 86400)


MUTATION_ALPHABET = "0123456789*,-/?LW# ABCDEFHIJMNORSTUVYZ\t"


def mutate(rng: random.Random, text: str) -> str:
    """A small random edit: replace, insert or delete a character, or drop/duplicate a field."""
    roll = rng.random()
    fields = text.split(" ")
    if roll < 0.1 and len(fields) > 1:
        fields.pop(rng.randrange(len(fields)))
        return " ".join(fields)
    if roll < 0.2:
        fields.insert(rng.randrange(len(fields) + 1), rng.choice(fields))
        return " ".join(fields)
    position = rng.randrange(len(text) + 1)
    char = rng.choice(MUTATION_ALPHABET)
    if roll < 0.5 and position < len(text):
        return text[:position] + char + text[position + 1 :]
    if roll < 0.8:
        return text[:position] + char + text[position:]
    return text[:position] + text[position + 1 :]


def dst_expression(rng: random.Random) -> str:
    """An expression firing near 00:00-04:00, where the zones under test change their clocks."""
    second = rng.choice(("0", "0", "30", "*/20", "59", "0-5", "*"))
    minute = rng.choice(
        ("*", "0", "30", "45", "15", "*/15", "*/30", "20,40", "10/25", "0-59/7", "29-31", "50-10")
    )
    hour = rng.choice(("*", "2", "1", "3", "1-3", "2,3", "0-4", "*/2", "1/3", "2-2", "23-3"))
    if rng.random() < 0.5:
        days = f"{rng.choice(('*', 'L', 'LW', '1W', '25-31', '1/2', 'L-1'))} * ?"
    else:
        days = f"? * {rng.choice(('*', '1', '1L', '1#1', '1#2', '1#5', '7L', '6#1', 'SUN', '1-7/2'))}"
    return f"{second} {minute} {hour} {days}"


def dst_start_instant(rng: random.Random, zone_name: str) -> int:
    """Epoch seconds within a few hours before (or just after) one of the zone's transitions."""
    return rng.choice(transitions(zone_name)) - rng.randint(-2 * 3600, 6 * 3600)
