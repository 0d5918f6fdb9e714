"""Human descriptions of expressions, by the cron-descriptor library.

cron-descriptor counts day-of-week from 0 = Sunday unless told otherwise; Quartz
counts from 1 = Sunday, hence ``day_of_week_start_index_zero=False``. It reads a
6-field line as "minutes first" when it sees ``?``, so it always gets 7 fields.
"""

from __future__ import annotations

from functools import lru_cache

from cron_descriptor import ExpressionDescriptor, Options

from .fields import MAX_YEAR, parse, split_fields


@lru_cache(maxsize=1)
def _options() -> Options:
    return Options(day_of_week_start_index_zero=False, use_24hour_time_format=False, locale_code="en_US")


def describe(expression: str) -> str:
    """A sentence such as "At 10:15 AM, Monday through Friday"; raises CronError when invalid."""
    parse(expression)
    fields = [token.upper() for token in split_fields(expression)]
    if len(fields) == 6:
        fields.append("*")
    if fields[5] == "L":
        fields[5] = "7"  # Quartz reads a lone L in day-of-week as Saturday
    if "/" in fields[6] and fields[6][0].isdigit() and "-" not in fields[6]:
        start, step = fields[6].split("/")
        fields[6] = f"{start}-{MAX_YEAR}/{step}"
    return str(ExpressionDescriptor(" ".join(fields), _options()).get_description())
