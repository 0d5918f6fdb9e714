"""``CronExpression``: a parsed Quartz expression and its fire times in any zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, tzinfo
from functools import lru_cache, partial

from .errors import CronError
from .fields import MIN_YEAR, ParsedExpression, parse
from .search import Search
from .zones import Wall, is_fixed, is_plain_day, lenient, resolve_zone, start_wall, to_aware


def _compile(text: str) -> tuple[ParsedExpression, Search]:
    """Parse (or reuse) ``text``; anything but a string is refused like bad text."""
    if not isinstance(text, str):
        raise CronError(f"a cron expression must be text, not {type(text).__name__}")
    return _compile_text(text)


@lru_cache(maxsize=1024)
def _compile_text(text: str) -> tuple[ParsedExpression, Search]:
    """Parse and build the search tables once per distinct text.

    Schedulers and APIs rebuild expressions from stored text all the time; both
    results are immutable apart from the search's per-month day cache, which any
    number of users may share.
    """
    parsed = parse(text)
    return parsed, Search(parsed)


class CronExpression:
    """A Quartz 2.3.2 cron expression.

    Parsing happens once, in the constructor, which raises
    :class:`~django_scheduler_api.cron.errors.CronError` for anything Quartz refuses.
    Fire times are computed on the wall clock of the zone given to each call, the
    way Quartz's ``CronExpression.getTimeAfter`` does after ``setTimeZone``.
    """

    __slots__ = ("_parsed", "_search")

    def __init__(self, expression: str) -> None:
        self._parsed, self._search = _compile(expression)

    @classmethod
    def validate(cls, text: str) -> None:
        """Raise :class:`CronError` when ``text`` is not a valid Quartz expression."""
        _compile(text)

    @property
    def expression(self) -> str:
        """The source text, upper-cased with single spaces between fields."""
        return self._parsed.text

    @property
    def parsed(self) -> ParsedExpression:
        """The value sets and day rule, for callers that want to inspect them."""
        return self._parsed

    def __repr__(self) -> str:
        return f"CronExpression({self.expression!r})"

    def __str__(self) -> str:
        return self.expression

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CronExpression) and other.expression == self.expression

    def __hash__(self) -> int:
        return hash(self.expression)

    def next_fire_time(self, after: datetime, tz: str | tzinfo = "UTC") -> datetime | None:
        """The first fire time strictly after the aware ``after``, in zone ``tz``, or None.

        As in Quartz, sub-second parts of ``after`` are dropped after adding one second.
        """
        zone = resolve_zone(tz)
        wall = self._wall_after(after, zone)
        found = self._search.fast(wall)
        if found is None:
            return None
        if is_fixed(zone) or is_plain_day(zone, found[0], found[1], found[2]):
            return datetime(*found, tzinfo=zone)
        found = self._search.stepwise(wall, partial(lenient, zone=zone))
        return None if found is None else to_aware(found, zone)

    def matches(self, moment: datetime, tz: str | tzinfo = "UTC") -> bool:
        """Whether the wall-clock second of the aware ``moment`` in zone ``tz`` is selected.

        What Quartz's ``CronCalendar`` asks of its expression: the second the instant falls in,
        read on the zone's clock (both instants of a repeated autumn hour read the same).
        """
        wall = moment.astimezone(resolve_zone(tz))
        parsed = self._parsed
        return (
            wall.second in parsed.seconds
            and wall.minute in parsed.minutes
            and wall.hour in parsed.hours
            and wall.month in parsed.months
            and wall.year in parsed.years
            and self._search.days(wall.year, wall.month)[wall.day] == wall.day
        )

    def fire_times(self, after: datetime, tz: str | tzinfo = "UTC") -> Iterator[datetime]:
        """Successive fire times after ``after``; ends when the schedule has none left."""
        zone = resolve_zone(tz)
        current = self.next_fire_time(after, zone)
        while current is not None:
            yield current
            current = self.next_fire_time(current, zone)

    @staticmethod
    def _wall_after(after: datetime, zone: tzinfo) -> Wall:
        """Where the search starts; nothing fires before Quartz's first year."""
        wall = start_wall(after, zone)
        return wall if wall[0] >= MIN_YEAR else (MIN_YEAR, 1, 1, 0, 0, 0)
