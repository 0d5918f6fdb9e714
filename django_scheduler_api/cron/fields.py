"""Parsing Quartz cron text into value sets and a day rule.

The grammar is Quartz 2.3.2's, read strictly: Quartz's hand-written parser also
accepts some text it then misreads (trailing characters it ignores, steps after
names it drops, ``*/0``); those are refused here with a sentence saying why, and
listed in ``docs/cron.rst``. Everything Quartz refuses is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .days import (
    DayRule,
    DaysOfMonth,
    DaysOfWeek,
    LastDayOfMonth,
    LastDayOfWeek,
    NearestWeekday,
    NthDayOfWeek,
)
from .errors import CronError
from .unix import unix_hint

MIN_YEAR = 1970
MAX_YEAR = 2099

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class FieldSpec:
    """One position of the expression: its name, bounds, names and largest step."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    max_step: int | None = None

    @property
    def range_text(self) -> str:
        """``1-7 (SUN-SAT)``: the allowed values as a person reads them."""
        text = f"{self.low}-{self.high}"
        if self.names:
            text += f" ({self.names[0]}-{self.names[-1]})"
        return text


SECONDS = FieldSpec("seconds", 0, 59, max_step=59)
MINUTES = FieldSpec("minutes", 0, 59, max_step=59)
HOURS = FieldSpec("hours", 0, 23, max_step=23)
DAY_OF_MONTH = FieldSpec("day-of-month", 1, 31, max_step=31)
MONTH = FieldSpec("month", 1, 12, MONTH_NAMES, max_step=12)
DAY_OF_WEEK = FieldSpec("day-of-week", 1, 7, DAY_NAMES, max_step=7)
YEAR = FieldSpec("year", MIN_YEAR, MAX_YEAR)
SPECS = (SECONDS, MINUTES, HOURS, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR)

_ITEM = re.compile(
    r"(?:(?P<all>\*)|(?P<start>[0-9]+|[A-Z]+)(?:-(?P<end>[0-9]+|[A-Z]+))?)?(?:/(?P<step>[^/]*))?"
)
_LAST_DOM = re.compile(r"L(?:-(?P<offset>[0-9]+))?(?P<weekday>W)?")
_NEAREST = re.compile(r"(?P<day>[0-9]+)W")
_LAST_DOW = re.compile(r"(?P<day>[0-9]+|[A-Z]+)L")
_NTH_DOW = re.compile(r"(?P<day>[0-9]+|[A-Z]+)#(?P<nth>.*)")
_FIELD_SPLIT = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class ParsedExpression:
    """What an expression selects: plain value sets, the years, and one day rule."""

    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day_rule: DayRule


def split_fields(text: str) -> list[str]:
    """Split on spaces and tabs only, as Quartz's tokenizer does."""
    if not isinstance(text, str):
        raise CronError(f"a cron expression must be text, not {type(text).__name__}")
    stripped = text.strip(" \t")
    return _FIELD_SPLIT.split(stripped) if stripped else []


def parse(text: str) -> ParsedExpression:
    """Parse a Quartz cron expression, raising :class:`CronError` on anything Quartz refuses."""
    tokens = [token.upper() for token in split_fields(text)]
    _check_count(tokens, text)
    normalised = " ".join(tokens)
    if len(tokens) == 6:
        tokens.append("*")
    seconds, minutes, hours = (parse_values(tokens[i], SPECS[i]) for i in range(3))
    months = parse_values(tokens[4], MONTH)
    years = parse_values(tokens[6], YEAR)
    day_rule = parse_days(tokens[3], tokens[5])
    return ParsedExpression(normalised, seconds, minutes, hours, months, years, day_rule)


def _check_count(tokens: list[str], text: str) -> None:
    """Refuse anything but 6 or 7 fields; a 5-field Unix line gets its Quartz equivalent."""
    if len(tokens) == 5:
        raise CronError(unix_hint(text))
    if len(tokens) < 6 or len(tokens) > 7:
        raise CronError(
            "expected 6 or 7 fields "
            "(seconds minutes hours day-of-month month day-of-week [year]), "
            f"got {len(tokens)}"
        )


def parse_values(token: str, spec: FieldSpec) -> frozenset[int]:
    """Parse a comma list of ``*``, values, ranges and steps into the set of values."""
    if token == "?":
        raise CronError("'?' is only allowed in day-of-month or day-of-week", spec.name)
    values: set[int] = set()
    for item in token.split(","):
        if not item:
            raise CronError(f"empty item in the list '{token}'", spec.name)
        values.update(_parse_item(item, spec))
    return frozenset(values)


def _parse_item(item: str, spec: FieldSpec) -> range | list[int]:
    """One list item: ``*``, ``a``, ``a-b``, each with an optional ``/step``."""
    match = _ITEM.fullmatch(item)
    if match is None or not (match["all"] or match["start"] or match["step"] is not None):
        raise CronError(_unexpected(item, spec), spec.name)
    step = 1 if match["step"] is None else _step(match["step"], spec)
    if match["all"] or match["start"] is None:
        return range(spec.low, spec.high + 1, step)
    is_name = not match["start"].isdigit()
    if is_name and match["step"] is not None:
        raise CronError(
            f"'{item}': Quartz ignores a step after a name; write numbers instead "
            f"(e.g. {_number_form(match, spec)}/{match['step']})",
            spec.name,
        )
    start = _value(match["start"], spec)
    if match["end"] is None:
        end = spec.high if match["step"] is not None else start
        return range(start, end + 1, step)
    if match["end"].isdigit() == is_name:
        raise CronError(f"'{item}': a range cannot mix names and numbers", spec.name)
    return _wrapping_range(start, _value(match["end"], spec), step, spec)


def _number_form(match: re.Match[str], spec: FieldSpec) -> str:
    """``MON-FRI`` written with numbers, for error hints."""
    parts = [match["start"]] + ([match["end"]] if match["end"] else [])
    return "-".join(str(spec.names.index(p) + spec.low) if p in spec.names else p for p in parts)


def _wrapping_range(start: int, end: int, step: int, spec: FieldSpec) -> range | list[int]:
    """``a-b/step``; when b < a the range wraps past the field's end (``22-2`` hours)."""
    if end >= start:
        return range(start, end + 1, step)
    if spec is YEAR:
        raise CronError(f"the range {start}-{end} ends before it starts", spec.name)
    width = spec.high - spec.low + 1
    return [(v - spec.low) % width + spec.low for v in range(start, end + width + 1, step)]


def _value(text: str, spec: FieldSpec) -> int:
    """A number or a three-letter name, checked against the field's bounds."""
    if text.isdigit():
        value = int(text)
        if not spec.low <= value <= spec.high:
            raise CronError(f"{value} is out of range {spec.range_text}", spec.name)
        return value
    if text in spec.names:
        return spec.names.index(text) + spec.low
    if spec.names:
        kind = "month" if spec is MONTH else "day"
        raise CronError(f"'{text}' is not a {kind} name ({', '.join(spec.names)})", spec.name)
    raise CronError(_unexpected(text, spec), spec.name)


def _step(text: str, spec: FieldSpec) -> int:
    """The number after ``/``: at least 1, and no larger than Quartz allows for the field."""
    limit = spec.max_step
    bounds = f"from 1 to {limit}" if limit else "of at least 1"
    if not text.isdigit() or int(text) < 1 or (limit is not None and int(text) > limit):
        raise CronError(f"'/' must be followed by a whole number {bounds}, not '{text}'", spec.name)
    return int(text)


def _unexpected(item: str, spec: FieldSpec) -> str:
    """The message for text that fits no form of the field."""
    extra = {
        "day-of-month": ", L, L-n, LW, nW or ?",
        "day-of-week": ", nL, n#k or ?",
    }.get(spec.name, "")
    return f"'{item}' is not valid here; expected *, a value, a range a-b or a step /n{extra}"


def parse_days(dom: str, dow: str) -> DayRule:
    """Combine the two day fields: exactly one of them must be ``?``."""
    for token, spec in ((dom, DAY_OF_MONTH), (dow, DAY_OF_WEEK)):
        if "?" in token and token != "?":
            raise CronError(f"'{token}': '?' must stand alone in its field", spec.name)
    if dom == "?" and dow == "?":
        raise CronError(
            "'?' can only be in one of day-of-month and day-of-week; the other must say which days"
        )
    if dom != "?" and dow != "?":
        raise CronError(
            "day-of-month and day-of-week cannot both be set; put '?' in one of them "
            "(e.g. '0 0 12 * * ?' or '0 0 12 ? * MON')"
        )
    return parse_day_of_week(dow) if dom == "?" else parse_day_of_month(dom)


def parse_day_of_month(token: str) -> DayRule:
    """``L``, ``L-n``, ``LW``, ``L-nW``, ``nW``, or plain values."""
    name = DAY_OF_MONTH.name
    if "L" in token or "W" in token:
        if "," in token:
            raise CronError(f"'{token}': L and W cannot be combined with other days", name)
        last = _LAST_DOM.fullmatch(token)
        if last:
            offset = int(last["offset"] or 0)
            if offset > 30:
                raise CronError(f"'{token}': the offset from the last day must be 30 or less", name)
            return LastDayOfMonth(offset, bool(last["weekday"]))
        nearest = _NEAREST.fullmatch(token)
        if nearest:
            return NearestWeekday(_value(nearest["day"], DAY_OF_MONTH))
        raise CronError(_unexpected(token, DAY_OF_MONTH), name)
    return DaysOfMonth(parse_values(token, DAY_OF_MONTH))


def parse_day_of_week(token: str) -> DayRule:
    """``L`` (Saturday), ``nL`` (last n-day of the month), ``n#k``, or plain values."""
    name = DAY_OF_WEEK.name
    if token == "L":
        return DaysOfWeek(frozenset({7}))
    if "L" in token or "#" in token:
        if "," in token:
            raise CronError(f"'{token}': L and # cannot be combined with other days", name)
        last = _LAST_DOW.fullmatch(token)
        if last:
            return LastDayOfWeek(_value(last["day"], DAY_OF_WEEK))
        nth = _NTH_DOW.fullmatch(token)
        if nth:
            if not nth["nth"].isdigit() or not 1 <= int(nth["nth"]) <= 5:
                raise CronError(f"'{token}': '#' must be followed by a number from 1 to 5", name)
            return NthDayOfWeek(_value(nth["day"], DAY_OF_WEEK), int(nth["nth"]))
        raise CronError(_unexpected(token, DAY_OF_WEEK), name)
    return DaysOfWeek(parse_values(token, DAY_OF_WEEK))
