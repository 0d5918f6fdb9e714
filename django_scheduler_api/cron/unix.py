"""Recognising five-field Unix cron lines and saying what Quartz wants instead.

People paste crontab lines; Quartz refuses them. The hint names the Quartz form:
seconds first, ``?`` in one day field, and day-of-week counted from 1 = Sunday.
"""

from __future__ import annotations

import re

_UNIX_DOW_NUMBER = re.compile(r"(?<![/0-9])[0-7](?![0-9])")


def is_unix_expression(text: str) -> bool:
    """True when ``text`` has the five fields of a Unix crontab schedule."""
    return isinstance(text, str) and len(text.split()) == 5


def to_quartz(text: str) -> str | None:
    """The Quartz equivalent of a Unix schedule, or ``None`` when Quartz cannot say it.

    Unix fires when day-of-month OR day-of-week matches if both are set; Quartz
    cannot express that, so such lines get no translation.
    """
    minute, hour, dom, month, dow = text.split()
    if dow == "*" or dow == "?":
        return f"0 {minute} {hour} {dom} {month} ?"
    if dom != "*":
        return None
    return f"0 {minute} {hour} ? {month} {_UNIX_DOW_NUMBER.sub(_shift_day, dow)}"


def _shift_day(match: re.Match[str]) -> str:
    """Unix 0-7 (0 and 7 = Sunday) to Quartz 1-7 (1 = Sunday)."""
    return str(int(match.group()) % 7 + 1)


def unix_hint(text: str) -> str:
    """The refusal sentence for a five-field line, with its Quartz form when there is one."""
    base = (
        "this looks like a 5-field Unix cron expression; Quartz expressions have 6 or 7 fields, "
        "starting with seconds"
    )
    quartz = to_quartz(text)
    if quartz is None:
        return base + ", and use '?' in either day-of-month or day-of-week"
    return f"{base}: '{text.strip()}' is '{quartz}' in Quartz"
