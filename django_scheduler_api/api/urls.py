"""Every endpoint with and without a trailing slash, and no redirects (docs/api.rst, "Design decisions").

A redirected POST loses its body, so each route matches both spellings itself (``/?$``) instead of
relying on ``APPEND_SLASH``. Reversing a route gives the spelling without the slash. The last route
answers any other path under the app's prefix with a JSON 404. Every view is ``guarded``: it refuses
a client the local-host guard refuses even when the project's ``MIDDLEWARE`` lacks the guard.
"""

from __future__ import annotations

from typing import Any

from django.urls import re_path
from django.urls.resolvers import URLPattern

from django_scheduler_api.api import metrics, views
from django_scheduler_api.api.exceptions import not_found
from django_scheduler_api.api.schema import SchemaView, swagger_asset, swagger_ui
from django_scheduler_api.middleware import guarded


def route(regex: str, view: Any, name: str) -> URLPattern:
    """``regex`` with an optional trailing slash, to ``view`` guarded by its own local-host check."""
    return re_path(rf"^{regex}/?$", guarded(view), name=name)


ID = r"(?P<id>[^/]+)"

urlpatterns = [
    re_path(r"^$", guarded(views.StatusView.as_view()), name="status"),
    route("jobs", views.JobViewSet.as_view({"get": "list"}, name="Jobs"), "job-list"),
    route(
        rf"jobs/{ID}",
        views.JobViewSet.as_view(
            {"get": "retrieve", "post": "replace", "patch": "partial_update", "delete": "destroy"},
            name="Job",
        ),
        "job-detail",
    ),
    route(
        rf"jobs/{ID}/executions",
        views.JobViewSet.as_view({"get": "executions"}, name="Job executions"),
        "job-executions",
    ),
    route("calendars", views.CalendarViewSet.as_view({"get": "list"}, name="Calendars"), "calendar-list"),
    route(
        rf"calendars/{ID}",
        views.CalendarViewSet.as_view(
            {"get": "retrieve", "post": "replace", "patch": "partial_update", "delete": "destroy"},
            name="Calendar",
        ),
        "calendar-detail",
    ),
    route(rf"jobs/{ID}/backfill", views.BackfillView.as_view(), "job-backfill"),
    route("executions", views.ExecutionViewSet.as_view({"get": "list"}, name="Executions"), "execution-list"),
    route(
        rf"executions/{ID}",
        views.ExecutionViewSet.as_view({"get": "retrieve"}, name="Execution"),
        "execution-detail",
    ),
    route("handlers", views.HandlerListView.as_view(), "handler-list"),
    route("preview", views.PreviewView.as_view(), "preview"),
    route("pause", views.PauseView.as_view(), "pause"),
    route("resume", views.ResumeView.as_view(), "resume"),
    route("trigger", views.TriggerView.as_view(), "trigger"),
    route("metrics", metrics.MetricsView.as_view(), "metrics"),
    route("schema", SchemaView.as_view(), "schema"),
    route("docs", swagger_ui, "swagger-ui"),
    route(r"docs/assets/(?P<name>[^/]+)", swagger_asset, "swagger-asset"),
    re_path(r"^", guarded(not_found)),
]
