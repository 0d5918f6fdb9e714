"""What a calendar excludes (docs/scheduling.rst, "Calendars"), read on a job's zone clock.

A calendar is a named set of exclusions, as Quartz's ``HolidayCalendar`` (dates),
``AnnualCalendar`` (a month and day every year) and ``CronCalendar`` (the seconds a cron expression
selects) are; here one calendar may hold all of them, plus ranges of dates. Pure values and
arithmetic, no database: ``planning`` skips the fire times these exclude, so the scheduler, the API,
the admin, the CLI and the preview all skip the same ones.

Each rule answers one question about an instant: is it excluded, and if so, where does the excluded
stretch end (``excluded_until``)? Searching from that end rather than from the next fire is what
lets an every-second job skip a nine-hour exclusion in a handful of steps. Every step is counted
against a ``Budget``: a calendar that excludes everything ends the search with ``ExcludedEverything``
instead of looping for ever.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from django_scheduler_api.cron import CronExpression

# How many excluded fires and excluded stretches one search for a fire may step over before it
# gives up: enough for 27 years of days wholly excluded, few enough to answer in milliseconds.
MAX_CALENDAR_STEPS = 10_000
# The end of time for a date range that runs to 9999-12-31: no schedule has a fire after it.
END_OF_TIME = datetime.max.replace(tzinfo=UTC)


class ExcludedEverything(ValueError):
    """The calendars exclude every fire of a schedule that the bounded search looked at."""

    def __init__(self, names: Iterable[str], after: datetime) -> None:
        self.names = list(names)
        self.after = after
        quoted = ", ".join(repr(name) for name in self.names)
        super().__init__(
            f"The calendars {quoted} exclude every fire of this schedule after "
            f"{after.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ} (searched {MAX_CALENDAR_STEPS} excluded fires "
            "and stretches): the job would never fire."
        )


class Budget:
    """The steps a search may still take; ``spend`` raises ``ExcludedEverything`` past the last."""

    def __init__(self, names: Iterable[str], after: datetime, steps: int = MAX_CALENDAR_STEPS) -> None:
        self.names, self.after, self.left = list(names), after, steps

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise ExcludedEverything(self.names, self.after)


@dataclass(frozen=True)
class CalendarRules:
    """One calendar's exclusions as values: local dates, inclusive date ranges, (month, day) pairs
    excluded every year, and cron expressions whose selected seconds are excluded."""

    name: str
    dates: frozenset[date] = frozenset()
    date_ranges: tuple[tuple[date, date], ...] = ()
    yearly_dates: frozenset[tuple[int, int]] = frozenset()
    cron_expressions: tuple[str, ...] = ()

    @classmethod
    def of(cls, calendar: Any) -> CalendarRules:
        """The rules of anything with a Calendar's fields, stored as text (``2026-12-25``,
        ``{"start": ..., "end": ...}``, ``12-25``, cron text)."""
        return cls(
            name=calendar.id,
            dates=frozenset(date.fromisoformat(text) for text in calendar.dates or ()),
            date_ranges=tuple(
                (date.fromisoformat(r["start"]), date.fromisoformat(r["end"]))
                for r in calendar.date_ranges or ()
            ),
            yearly_dates=frozenset(month_day(text) for text in calendar.yearly_dates or ()),
            cron_expressions=tuple(calendar.cron_expressions or ()),
        )

    def excluded_until(self, moment: datetime, zone: tzinfo, budget: Budget) -> datetime | None:
        """None if ``moment`` is not excluded; else the instant its excluded stretch ends."""
        day = moment.astimezone(zone).date()
        if day in self.dates or (day.month, day.day) in self.yearly_dates:
            return start_of_day(day, 1, zone)
        for first, last in self.date_ranges:
            if first <= day <= last:
                return start_of_day(last, 1, zone)
        for text in self.cron_expressions:
            expression = CronExpression(text)
            if expression.matches(moment, zone):
                return cron_stretch_end(expression, moment, zone, budget)
        return None


def month_day(text: str) -> tuple[int, int]:
    """``12-25`` -> (12, 25); the day must exist in some year (``02-29`` does, ``02-30`` not)."""
    month, _, day = text.partition("-")
    date(2000, int(month), int(day))  # 2000 is a leap year: raises for a day no year has
    return int(month), int(day)


def excluded_until(
    calendars: tuple[CalendarRules, ...], moment: datetime, zone: str, budget: Budget
) -> datetime | None:
    """Where the stretch that some calendar excludes around ``moment`` ends, or None."""
    resolved = ZoneInfo(zone)
    for calendar in calendars:
        until = calendar.excluded_until(moment, resolved, budget)
        if until is not None:
            return until
    return None


def start_of_day(day: date, days_later: int, zone: tzinfo) -> datetime:
    """The first instant of the local day ``days_later`` after ``day`` (a gap at midnight moves it
    to the end of the gap), or ``END_OF_TIME`` past the last date."""
    try:
        later = day + timedelta(days=days_later)
    except OverflowError:
        return END_OF_TIME
    return datetime.combine(later, time(0), tzinfo=zone).astimezone(UTC)


def cron_stretch_end(expression: CronExpression, moment: datetime, zone: tzinfo, budget: Budget) -> datetime:
    """The first second after ``moment`` that ``expression`` does not select, on the zone's clock.

    It strides over runs of selected values (a whole minute when every second is selected, a whole
    hour when every minute is too, a day when every hour is), so that an exclusion of hours costs
    a few steps. A stride that would cross a change of the zone's offset falls back to one minute
    (offsets change on whole minutes), so the clock is read afresh on each side of it.
    """
    at = moment.astimezone(UTC).replace(microsecond=0)
    while expression.matches(at, zone):
        budget.spend()
        local = at.astimezone(zone)
        target = at + _stride(expression, local, zone)
        if local.utcoffset() != (target - timedelta(microseconds=1)).astimezone(zone).utcoffset():
            target = at + (timedelta(seconds=1) if len(expression.parsed.seconds) < 60 else _to_minute(local))
        at = target
    return at


def _stride(expression: CronExpression, local: datetime, zone: tzinfo) -> timedelta:
    """From the selected second ``local``, how far the clock runs before it may leave the selection."""
    parsed = expression.parsed
    if len(parsed.seconds) < 60:
        return timedelta(seconds=_run(parsed.seconds, local.second, 60) - local.second)
    if len(parsed.minutes) < 60:
        return _to_minute(local) + timedelta(
            minutes=_run(parsed.minutes, local.minute, 60) - local.minute - 1
        )
    if len(parsed.hours) < 24:
        to_hour = _to_minute(local) + timedelta(minutes=59 - local.minute)
        return to_hour + timedelta(hours=_run(parsed.hours, local.hour, 24) - local.hour - 1)
    return start_of_day(local.date(), 1, zone) - local.astimezone(UTC)


def _run(selected: frozenset[int], value: int, size: int) -> int:
    """The first value after ``value`` (selected) that is not selected, or ``size``."""
    following = value + 1
    while following < size and following in selected:
        following += 1
    return following


def _to_minute(local: datetime) -> timedelta:
    return timedelta(seconds=60 - local.second)
