"""``skip``/``take`` paging with ``X-Total-Count`` and a ``Link`` header (docs/api.rst, "Lists").

The body stays a bare JSON array of items; the total and the neighbouring pages travel in headers, as
in GitHub's API, so a client that reads the array alone is not affected by paging.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from django_scheduler_api import services
from django_scheduler_api.conf import scheduler_settings

# The largest offset every database takes (SQLite's and PostgreSQL's are 64-bit; this leaves room
# for ``skip + take``). Found by the schemathesis run: a 20-digit skip was a 500.
MAX_SKIP = 2**62


def at_most_max_take(value: int) -> None:
    """No more than ``MAX_TAKE`` items in one answer (read when validating: a setting may change)."""
    if value > scheduler_settings.MAX_TAKE:
        raise serializers.ValidationError(
            f"Ensure this value is less than or equal to {scheduler_settings.MAX_TAKE}.", code="max_value"
        )


class PagingSerializer(serializers.Serializer):
    """``skip`` an integer >= 0, ``take`` an integer in 1..MAX_TAKE."""

    skip = serializers.IntegerField(required=False, min_value=0, max_value=MAX_SKIP, default=0)
    take = serializers.IntegerField(required=False, min_value=1, validators=[at_most_max_take])


PAGING_PARAMETERS = frozenset(PagingSerializer().fields)


def parse_paging(params: Any) -> tuple[int, int]:
    """(skip, take) from query parameters; a 400 with field errors for anything else."""
    paging = PagingSerializer(data={key: params[key] for key in ("skip", "take") if key in params})
    paging.is_valid(raise_exception=True)
    take = paging.validated_data.get("take", scheduler_settings.DEFAULT_TAKE)
    return paging.validated_data["skip"], take


class SkipTakePagination(BasePagination):
    """Slices a queryset by ``skip``/``take`` and answers the page with paging headers."""

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list[Any]:
        self.skip, self.take = parse_paging(request.query_params)
        self.count = queryset.count()
        self.request = request
        return services.page(queryset, self.skip, self.take)

    def get_paginated_response(self, data: Any) -> Response:
        headers = {"X-Total-Count": str(self.count)}
        link = self.link_header()
        if link:
            headers["Link"] = link
        return Response(data, headers=headers)

    def link_header(self) -> str:
        """RFC 8288 links to the next and previous pages, when there are such pages."""
        links = []
        if self.skip + self.take < self.count:
            links.append((self.page_url(self.skip + self.take), "next"))
        if self.skip > 0:
            links.append((self.page_url(max(0, self.skip - self.take)), "prev"))
        return ", ".join(f'<{url}>; rel="{rel}"' for url, rel in links)

    def page_url(self, skip: int) -> str:
        url = self.request.build_absolute_uri()
        url = replace_query_param(url, "skip", skip)
        return replace_query_param(url, "take", self.take)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return schema

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "skip",
                "in": "query",
                "required": False,
                "description": "How many items to skip (default 0).",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SKIP},
            },
            {
                "name": "take",
                "in": "query",
                "required": False,
                "description": f"How many items to return (default {scheduler_settings.DEFAULT_TAKE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": scheduler_settings.MAX_TAKE},
            },
        ]
