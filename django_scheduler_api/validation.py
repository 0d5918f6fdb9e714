"""The rules a job must satisfy, shared by the API serializers, the admin form and the CLI.

Each validator raises Django's ``ValidationError`` with a message a person can act on, so every way
of managing jobs refuses the same input with the same words.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError

from django_scheduler_api.cron import CronError, CronExpression
from django_scheduler_api.registry import HandlerNotRegistered, registry


def validate_handler(name: str) -> str:
    """A registered handler name; the message lists the registered ones."""
    try:
        registry.get(name)
    except HandlerNotRegistered as exc:
        raise ValidationError(str(exc), code="unknown_handler") from None
    return name


def validate_cron_expression(text: str) -> str:
    """A Quartz cron expression, stripped; empty means "fire once". The engine's message on error."""
    text = (text or "").strip()
    if text:
        try:
            CronExpression(text)
        except CronError as exc:
            raise ValidationError(str(exc), code="invalid_cron") from None
    return text


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


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
    """Job data is a JSON object (handed to the handler as a dict)."""
    if not isinstance(value, dict):
        raise ValidationError("data must be a JSON object.", code="invalid_data")
    return value
