"""A deliberately naive matcher: does a wall-clock second satisfy an expression?

Written from the definitions (no lookup tables, no per-month caches) so that the
property tests can check the engine's jumping search against it.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

from django_scheduler_api.cron.days import (
    DaysOfMonth,
    DaysOfWeek,
    LastDayOfMonth,
    LastDayOfWeek,
    NearestWeekday,
    NthDayOfWeek,
)
from django_scheduler_api.cron.fields import ParsedExpression


def quartz_day_of_week(day: date) -> int:
    """1 = Sunday ... 7 = Saturday."""
    return day.isoweekday() % 7 + 1


def _nearest_weekday(year: int, month: int, target: int) -> int:
    """The Monday-Friday day of the month closest to ``target``."""
    last = calendar.monthrange(year, month)[1]
    weekdays = [d for d in range(1, last + 1) if date(year, month, d).isoweekday() <= 5]
    return min(weekdays, key=lambda d: abs(d - target))


def day_matches(parsed: ParsedExpression, day: date) -> bool:
    """The day rule, evaluated from its definition."""
    rule = parsed.day_rule
    last = calendar.monthrange(day.year, day.month)[1]
    if isinstance(rule, DaysOfMonth):
        return day.day in rule.values
    if isinstance(rule, DaysOfWeek):
        return quartz_day_of_week(day) in rule.values
    if isinstance(rule, LastDayOfWeek):
        return quartz_day_of_week(day) == rule.weekday and day.day + 7 > last
    if isinstance(rule, NthDayOfWeek):
        return quartz_day_of_week(day) == rule.weekday and (day.day - 1) // 7 + 1 == rule.nth
    if isinstance(rule, LastDayOfMonth):
        target = last - rule.offset
        if target < 1:
            return False
        return day.day == (_nearest_weekday(day.year, day.month, target) if rule.weekday else target)
    if isinstance(rule, NearestWeekday):
        return rule.day <= last and day.day == _nearest_weekday(day.year, day.month, rule.day)
    raise TypeError(rule)


def date_and_time_match(parsed: ParsedExpression, wall: datetime) -> bool:
    """Everything but the seconds: year, month, day, hour, minute."""
    return (
        wall.year in parsed.years
        and wall.month in parsed.months
        and wall.hour in parsed.hours
        and wall.minute in parsed.minutes
        and day_matches(parsed, wall.date())
    )


def matches(parsed: ParsedExpression, wall: datetime) -> bool:
    """Does the wall-clock second satisfy the expression?"""
    return wall.second in parsed.seconds and date_and_time_match(parsed, wall)
