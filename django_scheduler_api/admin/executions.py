"""Executions in the admin: read-only history. An execution is a record of what happened; editing
it would falsify that record, and creating one outside ``services.trigger_jobs`` would skip the
queue, so the admin only shows them."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from django_scheduler_api.admin.display import (
    ReadOnlyAdmin,
    admin_link,
    pretty_json,
    pretty_text,
    status_badge,
)
from django_scheduler_api.models import Execution, Job


class JobIdFilter(admin.SimpleListFilter):
    """Filter by job id, including jobs deleted since: their history stays readable (docs/api.rst)."""

    title = "job"
    parameter_name = "job_id"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        ids = Execution.objects.order_by("job_id").values_list("job_id", flat=True).distinct()
        return [(job_id, job_id) for job_id in ids]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Execution]) -> QuerySet[Execution]:
        value = self.value()
        return queryset.filter(job_id=value) if value else queryset


@admin.register(Execution)
class ExecutionAdmin(ReadOnlyAdmin):
    """Every fire of every job, filterable by status, trigger and job; nothing can be changed."""

    list_display = (
        "short_id",
        "job_link",
        "trigger",
        "attempt",
        "status_display",
        "scheduled_fire_time",
        "started_at",
        "duration",
        "error_summary",
    )
    list_filter = ("status", "trigger", JobIdFilter)
    search_fields = ("id", "job__id", "error")
    date_hierarchy = "scheduled_fire_time"
    ordering = ("-scheduled_fire_time", "-created_at")
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("id", "job_link", "handler", "trigger", "status_display", "node", "task_id")}),
        ("Attempts", {"fields": ("attempt", "first_execution_link", "retry_links")}),
        (
            "Times",
            {
                "fields": (
                    "scheduled_fire_time",
                    "fire_time",
                    "released_at",
                    "enqueued_at",
                    "started_at",
                    "finished_at",
                    "duration",
                    "created_at",
                )
            },
        ),
        (
            "Input and outcome",
            {"fields": ("data_pretty", "result_pretty", "error_pretty", "traceback_pretty", "log_pretty")},
        ),
    )
    # Everything shown is read-only: the fields are exactly those of the fieldsets.
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"])

    class Media:
        css = {"all": ["django_scheduler_api/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Execution]:
        """Whether each execution's job still exists, in the same query (history outlives jobs)."""
        return (
            super()
            .get_queryset(request)
            .annotate(job_exists=Exists(Job.objects.filter(pk=OuterRef("job_id"))))
        )

    @admin.display(description="Execution", ordering="id")
    def short_id(self, execution: Execution) -> str:
        return str(execution.pk)[:8]

    @admin.display(description="Job", ordering="job_id")
    def job_link(self, execution: Execution) -> SafeString | str:
        if getattr(execution, "job_exists", True):
            return admin_link("job", execution.job_id, execution.job_id)
        return format_html("{} <small>(deleted)</small>", execution.job_id)

    @admin.display(description="First attempt")
    def first_execution_link(self, execution: Execution) -> SafeString | str:
        """The chain's first execution, for a retry (docs/scheduling.rst, "Retries")."""
        first = execution.first_execution_id
        return "-" if first is None else admin_link("execution", first, str(first)[:8])

    @admin.display(description="Retries")
    def retry_links(self, execution: Execution) -> SafeString | str:
        """The later attempts of a first execution's chain, in order."""
        if execution.first_execution_id is not None:
            return "-"
        attempts = execution.retries.order_by("attempt").values_list("pk", "attempt", "status")
        links = [
            format_html("{} ({})", admin_link("execution", pk, f"attempt {n}"), status)
            for pk, n, status in attempts
        ]
        return format_html_join(", ", "{}", ((link,) for link in links)) if links else "-"

    @admin.display(description="Status", ordering="status")
    def status_display(self, execution: Execution) -> SafeString | str:
        return status_badge(execution.status)

    @admin.display(description="Duration", ordering="duration_ms")
    def duration(self, execution: Execution) -> str:
        return "-" if execution.duration_ms is None else f"{execution.duration_ms} ms"

    @admin.display(description="Error")
    def error_summary(self, execution: Execution) -> str:
        return Truncator(execution.error or "").chars(80)

    @admin.display(description="Data")
    def data_pretty(self, execution: Execution) -> SafeString:
        return pretty_json(execution.data)

    @admin.display(description="Result")
    def result_pretty(self, execution: Execution) -> SafeString:
        return pretty_json(execution.result)

    @admin.display(description="Error")
    def error_pretty(self, execution: Execution) -> SafeString | str:
        return pretty_text(execution.error)

    @admin.display(description="Traceback")
    def traceback_pretty(self, execution: Execution) -> SafeString | str:
        return pretty_text(execution.traceback)

    @admin.display(description="Log")
    def log_pretty(self, execution: Execution) -> SafeString | str:
        """What the handler logged while it ran (``HANDLER_LOG_LIMIT`` bytes at most)."""
        return pretty_text(execution.log)
