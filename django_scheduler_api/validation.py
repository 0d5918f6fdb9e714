"""The rules a job must satisfy, shared by the API serializers, the admin form and the CLI.

Each validator raises Django's ``ValidationError`` with a message a person can act on, so every way
of managing jobs refuses the same input with the same words.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError

from django_scheduler_api import jsonvalues
from django_scheduler_api.cron import CronError, CronExpression
from django_scheduler_api.models import Job
from django_scheduler_api.registry import HandlerNotRegistered, registry


def validate_handler(name: str) -> str:
    """A registered handler name; the message lists the registered ones."""
    try:
        registry.get(name)
    except HandlerNotRegistered as exc:
        raise ValidationError(str(exc), code="unknown_handler") from None
    return name


def validate_cron_expression(text: str) -> str:
    """A Quartz cron expression, stripped; empty means "fire once". The engine's message on error.

    No longer than a job can store, wherever it comes from (``preview`` too)."""
    text = (text or "").strip()
    limit = Job._meta.get_field("cron_expression").max_length
    if len(text) > limit:
        raise ValidationError(
            f"A cron expression has at most {limit} characters, not {len(text)}.", code="max_length"
        )
    if text:
        try:
            CronExpression(text)
        except CronError as exc:
            raise ValidationError(str(exc), code="invalid_cron") from None
    return text


# Names in the tz database that are not zones: "localtime" is whatever the server is set to (a job
# would change its schedule when the host moves), "Factory" a placeholder that is no zone at all.
NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return (frozenset(available_timezones()) | {"UTC"}) - NOT_ZONES


def validate_timezone(name: str) -> str:
    """An IANA time zone name such as ``Europe/Berlin``."""
    if not isinstance(name, str) or name not in _zone_names():
        raise ValidationError(
            f"Unknown time zone {name!r}. Use an IANA name such as 'UTC' or 'Europe/Berlin'.",
            code="invalid_timezone",
        )
    ZoneInfo(name)
    return name


def validate_window(start_time: datetime | None, end_time: datetime | None) -> None:
    """``end_time`` must come after ``start_time`` when both are given."""
    if start_time is not None and end_time is not None and end_time <= start_time:
        raise ValidationError(
            {"end_time": ValidationError("end_time must be after start_time.", code="invalid_window")}
        )


def validate_data(value: Any) -> dict[str, Any]:
    """Job data is a JSON object (handed to the handler as a dict) that every database stores alike."""
    if not isinstance(value, dict):
        raise ValidationError("data must be a JSON object.", code="invalid_data")
    found = jsonvalues.problem(value)
    if found:
        raise ValidationError(found, code="invalid_data")
    return value


# ISO 8601's extended format as RFC 3339 writes it, in ASCII digits: a date, a time to the minute at
# least and an optional offset (none: UTC). Python's parser also takes week dates ("2026-W01-1"),
# ordinal dates and any Unicode digit, which nobody means.
ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?"
    r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?",
    re.ASCII,
)
