"""Time zones and the wall clock: how Quartz's lenient calendar reads local times.

Quartz works on wall-clock fields and lets ``java.util.GregorianCalendar`` turn
them into instants. That calendar reads a time inside a spring-forward gap with
the offset from before the gap (so 02:30 in a one-hour gap becomes 03:30), and an
ambiguous autumn time with the standard offset, i.e. the second occurrence. The
helpers here reproduce both readings with :mod:`zoneinfo`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Wall = tuple[int, int, int, int, int, int]
"""A wall-clock time as (year, month, day, hour, minute, second)."""

ONE_SECOND = timedelta(seconds=1)
_FIXED_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Universal", "Zulu"})


@lru_cache(maxsize=256)
def _zone_named(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


def resolve_zone(tz: str | tzinfo) -> tzinfo:
    """A tzinfo for an IANA name or a tzinfo (pytz zones are swapped for zoneinfo ones)."""
    if isinstance(tz, str):
        return _zone_named(tz)
    if isinstance(tz, tzinfo):
        pytz_name = getattr(tz, "zone", None)
        if hasattr(tz, "localize") and isinstance(pytz_name, str):
            return _zone_named(pytz_name)
        return tz
    raise TypeError(f"tz must be an IANA zone name or a tzinfo, not {type(tz).__name__}")


def is_fixed(zone: tzinfo) -> bool:
    """True for zones without transitions, where no DST reading is needed."""
    return isinstance(zone, timezone) or getattr(zone, "key", None) in _FIXED_NAMES


def start_wall(after: datetime, zone: tzinfo) -> Wall:
    """The wall clock Quartz starts from: one second after ``after``, milliseconds dropped."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("after must be an aware datetime (with a tzinfo, e.g. datetime.UTC)")
    try:
        local = (after.astimezone(UTC).replace(microsecond=0) + ONE_SECOND).astimezone(zone)
    except OverflowError:  # within a day of datetime.min or datetime.max
        return (1, 1, 1, 0, 0, 0) if after.year < 2000 else (9999, 12, 31, 23, 59, 59)
    return local.year, local.month, local.day, local.hour, local.minute, local.second


def offsets(wall: Wall, zone: tzinfo) -> tuple[timedelta | None, timedelta | None]:
    """UTC offsets of a wall time read as its first and as its second occurrence."""
    first = datetime(*wall, tzinfo=zone)
    return first.utcoffset(), first.replace(fold=1).utcoffset()


def lenient(wall: Wall, zone: tzinfo) -> Wall:
    """Java's lenient reading: a time inside a gap moves forward by the gap's length."""
    before, after = offsets(wall, zone)
    if before is None or after is None or before >= after:
        return wall
    moved = datetime(*wall) + (after - before)
    return moved.year, moved.month, moved.day, moved.hour, moved.minute, moved.second


@lru_cache(maxsize=8192)
def is_plain_day(zone: tzinfo, year: int, month: int, day: int) -> bool:
    """True when the zone's clock runs without a jump through the whole day.

    On such a day every wall time exists once and Quartz's lenient calendar never
    moves anything, so the fast search is exact. Cached: schedules revisit days.
    """
    start = offsets((year, month, day, 0, 0, 0), zone)
    end = offsets((year, month, day, 23, 59, 59), zone)
    return start[0] == start[1] == end[0] == end[1]


def to_aware(wall: Wall, zone: tzinfo) -> datetime:
    """The aware datetime Quartz means by a wall time: an ambiguous one is its second occurrence."""
    moment = datetime(*wall, tzinfo=zone)
    before, after = moment.utcoffset(), moment.replace(fold=1).utcoffset()
    if before is not None and after is not None and before > after:
        return moment.replace(fold=1)
    return moment
