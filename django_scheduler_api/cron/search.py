"""Finding the first wall-clock time at or after a start that an expression selects.

Two searches over the same precomputed tables:

* :meth:`Search.fast` jumps field by field from the largest (year) to the smallest
  (second) using "next allowed value" lookup tables and a per-month day cache. It
  is what almost every call uses.
* :meth:`Search.stepwise` follows Quartz's own order (second, minute, hour, day,
  month, year), restarting after each field it has to move, and passes every
  restart point through a normalising function. The caller uses it on days with a
  DST transition, giving it Java's lenient calendar reading so that the results
  match Quartz's, including its habit of landing past gaps.

Without normalisation both return the same time (the tests check this).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache

from .days import DayRule, month_length
from .fields import MAX_YEAR, MIN_YEAR, ParsedExpression
from .zones import Wall

NONE = -1
_DAY_TABLES_KEPT = 1200


@lru_cache(maxsize=1024)
def next_table(values: frozenset[int], size: int) -> tuple[int, ...]:
    """``table[i]`` = smallest value >= i, or -1; one slot past the end for carries.

    Cached: most expressions share their sets (``{0}``, every value, all years).
    """
    table = [NONE] * (size + 1)
    following = NONE
    for i in range(size - 1, -1, -1):
        if i in values:
            following = i
        table[i] = following
    return tuple(table)


@lru_cache(maxsize=256)
def year_table(years: frozenset[int]) -> tuple[int, ...]:
    """The next-year table, indexed and valued by years since 1970."""
    return next_table(frozenset(y - MIN_YEAR for y in years), MAX_YEAR - MIN_YEAR + 2)


def day_table(rule: DayRule, year: int, month: int) -> tuple[int, ...]:
    """``table[d]`` = first selected day >= d in the month, or 0; indexes 0..32."""
    selected = set(rule.days(year, month))
    table = [0] * 33
    following = 0
    for day in range(month_length(year, month), 0, -1):
        if day in selected:
            following = day
        table[day] = following
    table[0] = following
    return tuple(table)


class Search:
    """Lookup tables of one expression and the searches over them."""

    def __init__(self, parsed: ParsedExpression) -> None:
        self.rule = parsed.day_rule
        self.seconds = next_table(parsed.seconds, 60)
        self.minutes = next_table(parsed.minutes, 60)
        self.hours = next_table(parsed.hours, 24)
        self.months = next_table(parsed.months, 13)
        self.years = year_table(parsed.years)
        self.first_second = self.seconds[0]
        self.first_minute = self.minutes[0]
        self.first_hour = self.hours[0]
        self._day_tables: dict[tuple[int, int], tuple[int, ...]] = {}

    def days(self, year: int, month: int) -> tuple[int, ...]:
        """The month's day table, computed once per (year, month) and kept for the recent ones.

        The cache is emptied when it outgrows a century of months, so that many
        long-lived expressions searching far ahead cannot hold much memory.
        """
        key = (year, month)
        table = self._day_tables.get(key)
        if table is None:
            if len(self._day_tables) >= _DAY_TABLES_KEPT:
                self._day_tables.clear()
            table = self._day_tables[key] = day_table(self.rule, year, month)
        return table

    def time_from(self, hour: int, minute: int, second: int) -> tuple[int, int, int] | None:
        """The first selected time of day at or after the given one, or None."""
        next_hour = self.hours[hour]
        if next_hour == hour:
            next_minute = self.minutes[minute]
            if next_minute == minute:
                next_second = self.seconds[second]
                if next_second != NONE:
                    return hour, minute, next_second
                next_minute = self.minutes[minute + 1]
            if next_minute != NONE:
                return hour, next_minute, self.first_second
            next_hour = self.hours[hour + 1]
        if next_hour != NONE:
            return next_hour, self.first_minute, self.first_second
        return None

    def fast(self, start: Wall) -> Wall | None:
        """Largest field first: year, month, day, then the time of day."""
        year, month, day, hour, minute, second = start
        midnight = False
        while year <= MAX_YEAR:
            next_year = self.years[year - MIN_YEAR]
            if next_year == NONE:
                return None
            if next_year + MIN_YEAR != year:
                year, month, day, midnight = next_year + MIN_YEAR, 1, 1, True
            next_month = self.months[month]
            if next_month == NONE:
                year, month, day, midnight = year + 1, 1, 1, True
                continue
            if next_month != month:
                month, day, midnight = next_month, 1, True
            next_day = self.days(year, month)[day]
            if next_day == 0:
                year, month = (year, month + 1) if month < 12 else (year + 1, 1)
                day, midnight = 1, True
                continue
            if next_day != day:
                day, midnight = next_day, True
            if midnight:
                return year, month, day, self.first_hour, self.first_minute, self.first_second
            time = self.time_from(hour, minute, second)
            if time is not None:
                return (year, month, day, *time)
            day, midnight = day + 1, True
        return None

    def stepwise(self, start: Wall, normalise: Callable[[Wall], Wall]) -> Wall | None:
        """Quartz's order: move the smallest wrong field, reset those below, normalise, repeat."""
        wall, hour_set = start, None
        while True:
            wall = settle(wall, hour_set, normalise)
            if wall[0] > MAX_YEAR:
                return None
            moved = self._move_time(wall)
            if moved is None:
                date = self._move_date(wall)
                if date is None:
                    return wall
                moved = (date, None)
            wall, hour_set = moved

    def _move_time(self, wall: Wall) -> tuple[Wall, int | None] | None:
        """The restart point for a wrong second, minute or hour; None when all three fit.

        With it comes the hour Quartz asks the calendar for (``setCalendarHour``),
        or None where Quartz sets only the minute.
        """
        year, month, day, hour, minute, second = wall
        if self.seconds[second] == NONE:
            return carry(year, month, day, hour, minute + 1, self.first_second), None
        next_minute = self.minutes[minute]
        if next_minute != minute:
            if next_minute == NONE:
                return carry(year, month, day, hour + 1, self.first_minute, 0), hour + 1
            return (year, month, day, hour, next_minute, 0), hour
        next_hour = self.hours[hour]
        if next_hour != hour:
            if next_hour == NONE:
                return carry(year, month, day + 1, self.first_hour, 0, 0), self.first_hour
            return (year, month, day, next_hour, 0, 0), next_hour
        if self.seconds[second] != second:
            return (year, month, day, hour, minute, self.seconds[second]), None
        return None

    def _move_date(self, wall: Wall) -> Wall | None:
        """The restart point for a wrong day, month or year; None when all fit."""
        year, month, day = wall[:3]
        next_day = self.days(year, month)[day]
        if next_day != day:
            if next_day == 0:
                return carry(year, month + 1, 1, 0, 0, 0)
            return year, month, next_day, 0, 0, 0
        next_month = self.months[month]
        if next_month != month:
            if next_month == NONE:
                return year + 1, 1, 1, 0, 0, 0
            return year, next_month, 1, 0, 0, 0
        next_year = self.years[year - MIN_YEAR]
        if next_year + MIN_YEAR != year:
            if next_year == NONE:
                return _EXHAUSTED
            return next_year + MIN_YEAR, 1, 1, 0, 0, 0
        return None


_EXHAUSTED: Wall = (MAX_YEAR + 1, 1, 1, 0, 0, 0)


def settle(wall: Wall, hour_set: int | None, normalise: Callable[[Wall], Wall]) -> Wall:
    """Quartz's ``setCalendarHour``: when the calendar's reading changes the hour just set
    (a gap), Quartz sets the following hour instead, which matters for gaps over an hour."""
    settled = normalise(wall)
    if hour_set is None or hour_set == 24 or settled[3] == hour_set:
        return settled
    return normalise(carry(*settled[:3], hour_set + 1, *settled[4:]))


def carry(year: int, month: int, day: int, hour: int, minute: int, second: int) -> Wall:
    """Normalise one overflowing field (minute 60, hour 24, day 32, month 13) upwards."""
    if month > 12:
        year, month = year + 1, 1
    base = datetime(year, month, 1)
    moment = base + timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second)
    return moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second
