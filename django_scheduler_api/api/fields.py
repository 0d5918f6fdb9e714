"""Serializer fields of the API's answers only; those of a job's fields are in ``validation``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from django_scheduler_api.api.links import absolute_url


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
