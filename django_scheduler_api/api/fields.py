"""Serializer fields for the API's JSON: lenient enums (.NET names, numbers, any case), links, UTC."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

from django.db.models import TextChoices
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

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
        for number, value in enumerate(choices.values):
            self._lookup[_normal(value)] = value
            self._lookup[str(number)] = value
        for value, label in choices.choices:
            self._lookup.setdefault(_normal(str(label)), value)
        super().__init__(choices=choices.choices, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid_choice", input=data)
        value = self._lookup.get(_normal(str(data)))
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
