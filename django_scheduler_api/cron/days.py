"""Day rules: which days of a given month a day-of-month/day-of-week pair selects.

Quartz evaluates exactly one of the two day fields (the other holds ``?``), so each
expression has one rule. A rule answers ``days(year, month)`` with the sorted days
it selects; the evaluator caches the answer per month, so rules favour clarity.
Day-of-week numbers follow Quartz: 1 = Sunday ... 7 = Saturday.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

SATURDAY = 7
SUNDAY = 1


def month_length(year: int, month: int) -> int:
    """Days in the month (Gregorian, as Quartz's getLastDayOfMonth)."""
    return calendar.monthrange(year, month)[1]


def quartz_weekday(year: int, month: int, day: int) -> int:
    """Quartz day-of-week of a date: 1 = Sunday ... 7 = Saturday."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def nearest_weekday(year: int, month: int, day: int) -> int:
    """The weekday nearest to ``day`` without leaving the month (Quartz's ``W``).

    Saturday moves back to Friday unless that leaves the month (the 1st moves
    forward to Monday the 3rd); Sunday moves forward to Monday unless that leaves
    the month (the last day moves back to Friday).
    """
    last = month_length(year, month)
    weekday = quartz_weekday(year, month, day)
    if weekday == SATURDAY:
        return day + 2 if day == 1 else day - 1
    if weekday == SUNDAY:
        return day - 2 if day == last else day + 1
    return day


@dataclass(frozen=True)
class DaysOfMonth:
    """Plain day-of-month values (``1,15``, ``1/5``, ``*``); short months just lack some."""

    values: frozenset[int]

    def days(self, year: int, month: int) -> tuple[int, ...]:
        last = month_length(year, month)
        return tuple(sorted(d for d in self.values if d <= last))


@dataclass(frozen=True)
class LastDayOfMonth:
    """``L``, ``L-n``, ``LW`` and ``L-nW``: ``offset`` days before the last day.

    A month too short for the offset (``L-30`` in February) has no such day.
    """

    offset: int = 0
    weekday: bool = False

    def days(self, year: int, month: int) -> tuple[int, ...]:
        day = month_length(year, month) - self.offset
        if day < 1:
            return ()
        if self.weekday:
            day = nearest_weekday(year, month, day)
        return (day,)


@dataclass(frozen=True)
class NearestWeekday:
    """``nW``: the weekday nearest day ``day``; months without that day are skipped."""

    day: int

    def days(self, year: int, month: int) -> tuple[int, ...]:
        if self.day > month_length(year, month):
            return ()
        return (nearest_weekday(year, month, self.day),)


@dataclass(frozen=True)
class DaysOfWeek:
    """Plain day-of-week values (``2-6``, ``MON,WED``, ``*``, and ``L`` = Saturday)."""

    values: frozenset[int]

    def days(self, year: int, month: int) -> tuple[int, ...]:
        first = quartz_weekday(year, month, 1)
        last = month_length(year, month)
        return tuple(d for d in range(1, last + 1) if (first + d - 2) % 7 + 1 in self.values)


@dataclass(frozen=True)
class LastDayOfWeek:
    """``nL``: the last given weekday of the month (``6L`` = last Friday)."""

    weekday: int

    def days(self, year: int, month: int) -> tuple[int, ...]:
        last = month_length(year, month)
        back = (quartz_weekday(year, month, last) - self.weekday) % 7
        return (last - back,)


@dataclass(frozen=True)
class NthDayOfWeek:
    """``n#k``: the k-th given weekday of the month; months without a k-th are skipped."""

    weekday: int
    nth: int

    def days(self, year: int, month: int) -> tuple[int, ...]:
        first = 1 + (self.weekday - quartz_weekday(year, month, 1)) % 7
        day = first + 7 * (self.nth - 1)
        return (day,) if day <= month_length(year, month) else ()


DayRule = DaysOfMonth | LastDayOfMonth | NearestWeekday | DaysOfWeek | LastDayOfWeek | NthDayOfWeek
