"""The REST API's serializers, used from the command line.

``--json`` output goes through the very serializers and renderer the API answers with, so a script
reading ``manage.py scheduler show X --json`` gets the same document as ``GET /scheduler/jobs/X``.
Their links need a request; ``LinkRequest`` stands in for one, knowing only where the API is served.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import CommandError
from django.http import HttpRequest
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from django_scheduler_api.validation import error_message


class LinkRequest(HttpRequest):
    """A request for ``base_url`` (``http://host:port``), enough for the API's absolute links.

    Its host is what the user typed, not one a client sent, so it is not checked against
    ``ALLOWED_HOSTS``: the CLI's JSON then works whatever the project's host list says.
    """

    def __init__(self, base_url: str) -> None:
        super().__init__()
        parts = urlsplit(base_url if "//" in base_url else f"http://{base_url}")
        self._base_scheme = parts.scheme or "http"
        self._base_host = parts.netloc or "127.0.0.1:8000"
        self.method = "GET"
        self.path = self.path_info = "/"

    def _get_scheme(self) -> str:
        return self._base_scheme

    def get_host(self) -> str:
        return self._base_host


def api_request(base_url: str) -> Request:
    """A DRF request for the serializers' context."""
    return Request(LinkRequest(base_url))


def render(data: Any) -> str:
    """JSON as the API's renderer writes it (same encoder: dates, UUIDs, decimals), indented."""
    return JSONRenderer().render(data, renderer_context={"indent": 2}).decode()


def validated(
    serializer_class: type,
    data: dict[str, Any],
    *,
    instance: Any = None,
    partial: bool = False,
    **context: Any,
) -> dict[str, Any]:
    """Validate with an API serializer (over ``instance`` for a partial update, as a PATCH does); its
    400 field errors become a ``CommandError``."""
    serializer = serializer_class(instance, data=data, partial=partial, context=context)
    try:
        serializer.is_valid(raise_exception=True)
    except ValidationError as exc:
        raise CommandError(error_message(exc.detail)) from None
    return serializer.validated_data
