"""Jobs in the admin: a changelist that answers "what runs when, and did it work", and actions
that go through ``services`` exactly like the REST API's pause, resume, trigger and delete."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from django_scheduler_api import monitoring, retries, services
from django_scheduler_api.admin import charts
from django_scheduler_api.admin.display import (
    admin_link,
    cron_description,
    status_badge,
)
from django_scheduler_api.admin.forms import JobAdminForm
from django_scheduler_api.cli.tables import when
from django_scheduler_api.cron import CronError
from django_scheduler_api.models import Execution, Job
from django_scheduler_api.planning import ExcludedEverything

RECENT_EXECUTIONS = 10
DURATION_RUNS = 50
FILTER_CHOICES = 100  # the most groups (or handlers) the filter sidebar lists


class IndexedValuesFilter(admin.AllValuesFieldListFilter):
    """Django's filter by each value of a column, with the values found by a loose index scan
    (``services.job_values``): ``SELECT DISTINCT`` would read an index entry per job on every
    changelist. Lists at most ``FILTER_CHOICES`` values."""

    def __init__(
        self, field: Any, request: HttpRequest, params: Any, model: Any, model_admin: Any, field_path: str
    ) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = services.job_values(field.name, FILTER_CHOICES)


def _latest_execution(field: str) -> Subquery:
    """One column of a job's most recent execution, as a subquery (no query per row)."""
    latest = Execution.objects.filter(job_id=OuterRef("pk")).order_by(*services.LATEST_FIRST)
    return Subquery(latest.values(field)[:1])


def _ids(queryset: QuerySet[Job]) -> list[str]:
    return list(queryset.order_by("id").values_list("id", flat=True))


def _run_bulk(
    request: HttpRequest, admin_site: admin.ModelAdmin, operation: Callable[[list[str]], Any], ids: list[str]
) -> Any:
    """Run a ``services`` operation; an id deleted meanwhile refuses it all, as in the API."""
    try:
        return operation(ids)
    except services.UnknownJobs as exc:
        admin_site.message_user(request, str(exc), messages.ERROR)
        return None


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Jobs: list, filter, search, edit with the API's rules, and pause/resume/trigger/delete."""

    form = JobAdminForm
    list_display = (
        "id",
        "group",
        "state",
        "handler",
        "schedule",
        "next_fire",
        "last_execution",
    )
    list_filter = ("state", ("group", IndexedValuesFilter), ("handler", IndexedValuesFilter))
    search_fields = ("id", "name", "description")
    ordering = ("id",)
    list_per_page = 50
    # "N of M selected" needs a second count of all jobs when a filter is on; a million jobs are a
    # second pass over an index on every filtered page, for a figure the unfiltered list shows.
    show_full_result_count = False
    actions = ("pause_selected", "resume_selected", "trigger_selected", "delete_selected")
    fieldsets = (
        (None, {"fields": ("id", "group", "name", "description", "handler", "state")}),
        (
            "Schedule",
            {
                "fields": (
                    "cron_description",
                    *Job.TIMING_FIELDS,
                    "misfire_policy",
                    "overlap_policy",
                    "max_concurrent",
                    "timeout",
                    "upcoming_fires",
                    "next_fire_time",
                    "previous_fire_time",
                )
            },
        ),
        (
            "Retries",
            {"fields": (*Job.RETRY_FIELDS, "retry_description")},
        ),
        ("Data", {"fields": ("data",)}),
        ("Executions", {"fields": ("recent_durations", "recent_executions")}),
        ("Record", {"classes": ("collapse",), "fields": ("source", "created_at", "updated_at")}),
    )
    readonly_fields = (
        "cron_description",
        "retry_description",
        "upcoming_fires",
        "next_fire_time",
        "previous_fire_time",
        "recent_durations",
        "recent_executions",
        "source",
        "created_at",
        "updated_at",
    )

    class Media:
        css = {"all": ["django_scheduler_api/admin.css"]}

    # -- the changelist ----------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_execution_id=_latest_execution("id"),
                last_execution_status=_latest_execution("status"),
            )
        )

    @admin.display(description="Schedule", ordering="cron_expression")
    def schedule(self, job: Job) -> SafeString:
        return format_html(
            "<code>{}</code><br><small>{}</small>",
            job.cron_expression or (f"{job.interval} s" if job.interval else "-"),
            cron_description(job.cron_expression, job.interval),
        )

    @admin.display(description="Next fire (UTC)", ordering="next_fire_time")
    def next_fire(self, job: Job) -> str:
        """Compact and in UTC, like the API, so the column stays narrow and sortable by eye."""
        return when(job.next_fire_time)

    @admin.display(description="Last execution")
    def last_execution(self, job: Job) -> SafeString | str:
        execution_id = getattr(job, "last_execution_id", None)
        if execution_id is None:
            return "-"
        return admin_link("execution", execution_id, status_badge(job.last_execution_status))

    # -- the change form ---------------------------------------------------------------------

    def get_readonly_fields(self, request: HttpRequest, obj: Job | None = None) -> tuple[str, ...]:
        """The id is the primary key: editing it would create a second job, so it is fixed."""
        fields = tuple(super().get_readonly_fields(request, obj))
        return ("id", *fields) if obj is not None else fields

    @admin.display(description="Description of the schedule")
    def cron_description(self, job: Job) -> str:
        return "-" if job._state.adding else cron_description(job.cron_expression, job.interval)

    @admin.display(description="Retry policy")
    def retry_description(self, job: Job) -> str:
        return "-" if job._state.adding else retries.describe(retries.RetryPolicy.of(job))

    @admin.display(description="Next five fire times")
    def upcoming_fires(self, job: Job) -> SafeString | str:
        if job._state.adding:  # an unsaved form's values may be the invalid ones
            return "Shown once the job is saved."
        try:
            fires = services.upcoming_fire_times(job, 5)
        except (CronError, ExcludedEverything) as exc:
            return str(exc)
        if not fires:
            return "None: the schedule has no fire left."
        note = " (the job is paused: these fire once it is resumed)" if job.state == Job.State.PAUSED else ""
        rows = format_html_join("", "<li>{}</li>", ((self._instant(f, job.timezone),) for f in fires))
        return format_html('<ol class="scheduler-fires">{}</ol>{}', rows, note)

    @staticmethod
    def _instant(fire: datetime, zone: str) -> str:
        utc = fire.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if zone in ("UTC", ""):
            return utc
        local = fire.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")
        return f"{utc} ({local} {zone})"

    @admin.display(description=f"Durations of the last {DURATION_RUNS} executions")
    def recent_durations(self, job: Job) -> SafeString | str:
        if job._state.adding:
            return "-"
        runs = monitoring.recent_durations(job.pk, limit=DURATION_RUNS)
        return charts.durations(runs) if runs else "No executions yet."

    @admin.display(description="Recent executions")
    def recent_executions(self, job: Job) -> SafeString | str:
        if job._state.adding:
            return "-"
        executions = services.recent_executions(job.pk, RECENT_EXECUTIONS)
        changelist = reverse("admin:django_scheduler_api_execution_changelist")
        all_url = f"{changelist}?{urlencode({'job_id': job.pk})}"
        return render_to_string(
            "admin/django_scheduler_api/job/recent_executions.html",
            {"executions": executions, "all_url": all_url, "limit": RECENT_EXECUTIONS},
        )

    def save_form(self, request: HttpRequest, form: JobAdminForm, change: bool) -> Job:
        """Save through ``services.save_job``, as the API does: the next fire time moves only when a
        schedule field (cron, zone, start, end, state) changed. The admin goes on (its log entry,
        its redirect) with the job as saved."""
        unsaved = super().save_form(request, form, change)
        saved, _ = services.save_job(unsaved.pk, form.job_fields())
        return saved

    def save_model(self, request: HttpRequest, obj: Job, form: JobAdminForm, change: bool) -> None:
        """Nothing left to do: ``save_form`` saved the job through ``services``."""

    def delete_model(self, request: HttpRequest, obj: Job) -> None:
        services.delete_job(obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        """The bulk delete also cancels queued executions, one job at a time like the API."""
        for job_id in _ids(queryset):
            services.delete_job(job_id)

    # -- actions: the REST API's operations ----------------------------------------------------

    @admin.action(description="Pause selected jobs", permissions=["change"])
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        paused = _run_bulk(request, self, services.pause_jobs, _ids(queryset))
        if paused is not None:
            self._log_action(request, paused, "Paused.")
            self.message_user(request, f"Paused {len(paused)} job(s): {', '.join(paused)}.", messages.SUCCESS)

    @admin.action(description="Resume selected jobs", permissions=["change"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        resumed = _run_bulk(request, self, services.resume_jobs, _ids(queryset))
        if resumed is not None:
            self._log_action(request, resumed, "Resumed.")
            self.message_user(
                request, f"Resumed {len(resumed)} job(s): {', '.join(resumed)}.", messages.SUCCESS
            )

    @admin.action(description="Trigger selected jobs now", permissions=["change"])
    def trigger_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        executions = _run_bulk(request, self, services.trigger_jobs, _ids(queryset))
        if executions is None:
            return
        self._log_action(request, [e.job_id for e in executions], "Triggered now.")
        links = format_html_join(
            ", ",
            "{}",
            ((admin_link("execution", e.pk, f"{e.job_id} ({str(e.pk)[:8]})"),) for e in executions),
        )
        self.message_user(
            request,
            format_html("Triggered {} job(s); executions: {}.", len(executions), links),
            messages.SUCCESS,
        )
        unsent = sum(1 for e in executions if e.enqueued_at is None)
        if unsent:
            self.message_user(
                request,
                f"{unsent} execution(s) not handed to django-q2 yet (see the log): a scheduler "
                "sends them from its outbox.",
                messages.WARNING,
            )

    def _log_action(self, request: HttpRequest, ids: list[str], message: str) -> None:
        """Record the action in each job's admin history, as the admin records edits: who paused what."""
        for job in Job.objects.filter(pk__in=ids):
            self.log_change(request, job, message)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("data", {})
        return initial
