"""*Scheduler > Dashboard*: whether the scheduler is alive, what failed lately, which job is slow, what
runs next, on one admin page.

The figures come from ``monitoring`` (a few aggregates, each one ``GROUP BY`` over indexed
columns, so the page costs the same number of queries with a hundred or a million executions); this
module picks the time range and draws them with ``charts``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from django_scheduler_api import monitoring
from django_scheduler_api.admin import charts
from django_scheduler_api.admin.display import ReadOnlyAdmin
from django_scheduler_api.models import Dashboard, Execution

HOURS = (1, 3, 6, 12, 24)  # the ranges offered; the charts' bars stay at most about 180
DEFAULT_HOURS = 3
GRID_JOBS, GRID_RUNS = 50, 40
# A job firing more than UPCOMING_FIRES times in the next hours is drawn as a band, not ticks.
UPCOMING_JOBS, UPCOMING_FIRES, UPCOMING_HOURS = 30, 100, 24
FAILURES, SLOWEST = 10, 8
CACHE_KEY = "django_scheduler_api:dashboard"


@admin.register(Dashboard)
class DashboardAdmin(ReadOnlyAdmin):
    """A page, not a list: the proxy model only gives it its place on the admin index."""

    class Media:
        css = {"all": ["django_scheduler_api/admin.css"]}

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Whoever may see executions may see the dashboard drawn from them."""
        return request.user.has_perm("django_scheduler_api.view_execution") or super().has_view_permission(
            request, obj
        )

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view(self.dashboard_view)
        return [path("", view, name="{}_{}_changelist".format(*info))]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            hours = int(request.GET.get("hours", DEFAULT_HOURS))
        except ValueError:
            hours = -1
        if hours not in HOURS:
            return HttpResponseBadRequest(f"hours must be one of {', '.join(map(str, HOURS))}.")
        context = {
            **self.admin_site.each_context(request),
            "is_nav_sidebar_enabled": False,  # the charts need the page's width
            "title": "Scheduler dashboard",
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "hours": hours,
            "hour_choices": HOURS,
            **dashboard_context(hours),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/django_scheduler_api/dashboard.html", context)


def dashboard_context(hours: int) -> dict[str, Any]:
    """Everything the page shows for the last ``hours``, drawn at most once per
    ``METRICS_CACHE_TTL`` seconds (a wall screen refreshing, several staff looking)."""
    return monitoring.cached_for_ttl(f"{CACHE_KEY}:{hours}", lambda: draw(hours))


def draw(hours: int) -> dict[str, Any]:
    """The figures of the last ``hours`` and their charts, from the database."""
    now = timezone.now()
    since = now - timedelta(hours=hours)
    step = max(1, hours * 60 // 180)  # minutes per bar: at most 180 bars
    lag_step = max(5, hours * 60 // 36)
    now_running = monitoring.activity(now)
    hour_ago = now - timedelta(hours=1)
    jobs = monitoring.grid_job_ids(limit=GRID_JOBS)
    runs = monitoring.recent_runs(jobs, since, per_job=GRID_RUNS)
    upcoming = monitoring.upcoming_fires(
        now, now + timedelta(hours=UPCOMING_HOURS), jobs=UPCOMING_JOBS, per_job=UPCOMING_FIRES
    )
    executions_url = reverse("admin:django_scheduler_api_execution_changelist")
    minutes = monitoring.executions_per_minute(since, now)
    lag_points = monitoring.fire_lag_over_time(since, now, step_minutes=lag_step)
    hour_start = hour_ago.replace(second=0, microsecond=0)  # whole minutes, as the bars
    last_hour = [m.counts for m in minutes if m.start >= hour_start]
    return {
        "hour_start": hour_start,
        "failed_last_hour": sum(c.get("failed", 0) + c.get("lost", 0) for c in last_hour),
        "finished_last_hour": sum(c.get(s, 0) for c in last_hour for s in Execution.FINISHED),
        "activity": now_running,
        "misfires": monitoring.latest_misfires(),
        "alive": now_running.live_nodes > 0,
        "failures": monitoring.recent_failures(hour_ago, limit=FAILURES),
        "failed_url": f"{executions_url}?status__exact=failed",
        "executions_url": executions_url,
        "slowest": monitoring.slowest_jobs(hour_ago, now, limit=SLOWEST),
        "per_minute_chart": charts.executions_per_minute(minutes, step=step),
        "step": step,
        "lag_chart": charts.fire_lag(lag_points, step=lag_step),
        "lag_step": lag_step,
        "grid": jobs,
        "grid_chart": charts.run_grid([(job_id, runs[job_id]) for job_id in jobs]),
        "grid_runs": GRID_RUNS,
        "grid_jobs": GRID_JOBS,
        "upcoming_chart": charts.upcoming_fires(upcoming, now, now + timedelta(hours=UPCOMING_HOURS))
        if upcoming
        else None,
        "next_fire": min(upcoming, key=lambda u: u.fires[0], default=None) if upcoming else None,
        "upcoming_jobs": UPCOMING_JOBS,
        "statuses": Execution.Status,
        "now": now,
    }
