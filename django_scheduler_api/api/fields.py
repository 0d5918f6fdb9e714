"""Serializer fields for the API's JSON: lenient enums (.NET names, numbers, any case), links, UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django.db.models import TextChoices
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings
from rest_framework.utils import humanize_datetime

from django_scheduler_api import validation
from django_scheduler_api.api.links import absolute_url

_SEPARATORS = re.compile(r"[\s_\-]")


def _normal(text: str) -> str:
    return _SEPARATORS.sub("", text).lower()


class LenientChoiceField(serializers.ChoiceField):
    """A choice that also accepts the .NET spellings: ``Planned``, ``DoNothing``, ``FIRE_AND_PROCEED``
    and the enum's number (its position in ``choices``, 0-based), in any case. Answers are always
    the snake_case value.
    """

    def __init__(self, choices: type[TextChoices], **kwargs: Any) -> None:
        self.choices_class = choices
        self._lookup: dict[str, str] = {}
        self._numbers = {str(number): value for number, value in enumerate(choices.values)}
        for value in choices.values:
            self._lookup[_normal(value)] = value
        for value, label in choices.choices:
            self._lookup.setdefault(_normal(str(label)), value)
        super().__init__(choices=choices.choices, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid_choice", input=data)
        text = str(data)
        # A number exactly as written: separators are ignored in names only, so "-1" is not 1.
        is_number = isinstance(data, int) or (text.isascii() and text.isdigit())
        value = self._numbers.get(text) if is_number else self._lookup.get(_normal(text))
        if value is None:
            self.fail("invalid_choice", input=data)
        return value

    def dotnet_names(self) -> list[str]:
        """The .NET enum names (``Planned``, ``DoNothing``), for the schema of requests."""
        values = self.choices_class.values
        return ["".join(part.capitalize() for part in value.split("_")) for value in values]


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {},
        "description": "A JSON object, handed to the handler.",
        "example": {"recipients": ["ops@example.com"], "dry_run": False},
    }
)
class JSONObjectField(serializers.JSONField):
    """A JSON object (the schema says so, so that a client or Swagger UI never sends a string)."""


@extend_schema_field(OpenApiTypes.URI)
class LinkField(serializers.Field):
    """The absolute URL of a named route, its kwargs taken from attributes of the object."""

    def __init__(self, view_name: str, kwargs: dict[str, str], **options: Any) -> None:
        self.view_name = view_name
        self.url_kwargs = kwargs
        options.update(read_only=True, source="*")
        super().__init__(**options)

    def to_representation(self, value: Any) -> str:
        kwargs = {key: str(getattr(value, attr)) for key, attr in self.url_kwargs.items()}
        return absolute_url(self.context["request"], self.view_name, **kwargs)


class UTCDateTimeField(serializers.DateTimeField):
    """Instants in UTC both ways, whatever the project's ``TIME_ZONE``: answers end in ``Z`` and a
    time sent without an offset is read as UTC (docs/api.rst, "Jobs")."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> datetime:
        """Only ``2026-05-01T12:00:00Z`` and its shorter forms, in ASCII digits (``validation``)."""
        if isinstance(value, str) and not validation.ISO_DATETIME.fullmatch(value):
            formats = getattr(self, "input_formats", api_settings.DATETIME_INPUT_FORMATS)
            self.fail("invalid", format=humanize_datetime.datetime_formats(formats))
        return super().to_internal_value(value)


def non_string_errors(fields: dict[str, serializers.Field], data: dict[str, Any]) -> dict[str, list[str]]:
    """The writable text fields of ``data`` whose value is a number or another non-string.

    DRF's ``CharField`` turns ``42`` into ``"42"``; a description or a group sent as a number is a
    client's mistake, refused like an unknown key. (``null`` is left to the field's own rule.)
    """
    return {
        name: [f"Must be a string, not {type(data[name]).__name__}."]
        for name, field in fields.items()
        if isinstance(field, serializers.CharField)
        and not field.read_only
        and name in data
        and data[name] is not None
        and not isinstance(data[name], str)
    }
