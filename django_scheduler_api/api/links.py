"""Absolute URLs of the API's resources, wherever (and under whichever namespace) it is mounted."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.http import urlencode
from rest_framework.request import Request

from django_scheduler_api import APP_NAME


def absolute_url(request: Request, name: str, query: dict[str, Any] | None = None, /, **kwargs: Any) -> str:
    """``http://host/prefix/<path of name>?query`` for the URL ``name`` of this app.

    ``current_app`` picks the instance namespace the request came through, so an app included twice
    links within the copy that answered.
    """
    match = getattr(request, "resolver_match", None)
    current_app = match.namespace if match is not None and match.namespace else None
    path = reverse(f"{APP_NAME}:{name}", kwargs=kwargs or None, current_app=current_app)
    if query:
        path = f"{path}?{urlencode(query)}"
    return request.build_absolute_uri(path)
