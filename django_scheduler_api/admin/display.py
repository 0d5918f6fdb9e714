"""Small pieces of admin HTML shared by the job and execution pages."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from django_scheduler_api.planning import describe_schedule


def cron_description(expression: str, interval: int | None = None) -> str:
    """The engine's sentence for an expression or an interval; for neither, what the job does."""
    return describe_schedule(expression, interval, once="Once (no cron expression)")


def status_badge(status: str | None) -> SafeString | str:
    """An execution status, coloured so failures stand out in a long list."""
    if not status:
        return "-"
    return format_html('<span class="scheduler-status scheduler-status-{}">{}</span>', status, status)


def pretty_json(value: Any) -> SafeString:
    """JSON indented in a <pre>, readable for nested results and data."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return format_html('<pre class="scheduler-pre">{}</pre>', text)


def pretty_text(value: str | None) -> SafeString | str:
    """Multi-line text (an error, a traceback) kept as written."""
    if not value:
        return "-"
    return format_html('<pre class="scheduler-pre">{}</pre>', value)


def admin_link(model: str, pk: Any, label: Any) -> SafeString:
    """A link to the admin change page of a scheduler object (its key quoted as the admin's own
    links are, so that any stored id, one with a newline too, has a working link)."""
    url = reverse(f"admin:django_scheduler_api_{model}_change", args=[quote(str(pk))])
    return format_html('<a href="{}">{}</a>', url, label)


class ReadOnlyAdmin(admin.ModelAdmin):
    """A model admin that shows and never adds, changes or deletes (a record of what happened)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
