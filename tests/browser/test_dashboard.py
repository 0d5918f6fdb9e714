"""The admin's dashboard in headless Chromium: every chart is there and draws what the database holds.

Screenshots (light and dark theme, and a job's durations chart) go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from django_scheduler_api import monitoring, services
from django_scheduler_api.engine import store
from django_scheduler_api.models import DroppedMisfires, Execution, Job, SchedulerNode
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

URL = "/admin/django_scheduler_api/dashboard/"
JOBS = {
    "billing.invoices": ("0 */2 * * * ?", "tests.echo", 0.02),
    "billing.reminders": ("0 0/15 * * * ?", "tests.echo", 0.0),
    "reports.daily": ("0 30 6 * * ?", "tests.sleep", 0.0),
    "reports.hourly": ("0 0 * * * ?", "tests.sleep", 0.1),
    "sync.crm": ("0 * * * * ?", "tests.echo", 0.08),
    "sync.inventory": ("30 */5 * * * ?", "tests.fail", 0.5),
}


def seed(now) -> dict[str, list[Execution]]:
    """Three hours of history for six jobs: one fire a minute or less, some failed, one running."""
    rng = random.Random(14)
    # History starts 10 minutes inside the page's 3-hour window, so the window still holds all of it
    # when a busy machine opens the page minutes after this seeding (the window ends at page load).
    start = (now - timedelta(hours=3) + timedelta(minutes=10)).replace(second=0, microsecond=0)
    made: dict[str, list[Execution]] = {}
    for job_id, (cron, handler, failure_rate) in JOBS.items():
        services.save_job(job_id, {"handler": handler, "cron_expression": cron})
        every = {"billing.invoices": 2, "sync.crm": 1, "sync.inventory": 5}.get(job_id, 15)
        rows = []
        minute = start
        while minute < now - timedelta(minutes=1):
            lag = timedelta(milliseconds=rng.lognormvariate(0.7, 0.6))
            duration = int(rng.lognormvariate(5 if handler == "tests.sleep" else 3, 0.5))
            status = "failed" if rng.random() < failure_rate else "succeeded"
            rows.append(
                Execution(
                    job_id=job_id,
                    handler=handler,
                    trigger="schedule",
                    status=status,
                    scheduled_fire_time=minute,
                    fire_time=minute,
                    enqueued_at=minute,
                    started_at=minute + lag,
                    finished_at=minute + lag + timedelta(milliseconds=duration),
                    duration_ms=duration,
                    error="RuntimeError: this handler always fails" if status == "failed" else None,
                )
            )
            minute += timedelta(minutes=every)
        made[job_id] = Execution.objects.bulk_create(rows)
    running = now - timedelta(seconds=40)
    Execution.objects.create(
        job_id="reports.hourly", handler="tests.sleep", trigger="manual", status="running",
        scheduled_fire_time=running, fire_time=running, enqueued_at=running, started_at=running,
    )  # fmt: skip
    SchedulerNode.objects.create(name="web-1:4242", hostname="web-1", pid=4242, started_at=now, last_seen=now)
    # A misfire the scheduler drops (do_nothing): yesterday's 06:30 fire of reports.daily, found a
    # day late by a real claim. It records no execution; the tally counts it.
    Job.objects.filter(pk="reports.daily").update(next_fire_time=now - timedelta(days=1))
    store.claim_due(now, node="web-1:4242", limit=10, threshold=timedelta(seconds=60))
    return made


@pytest.fixture
def dashboard_data(transactional_db, settings):
    # The seeded node stays alive however long the browser takes (no race with its heartbeat age).
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "NODE_TIMEOUT": 3600}
    cache.clear()  # the page is cached for METRICS_CACHE_TTL: no page of an earlier test
    now = timezone.now()
    return now, seed(now)


def test_the_dashboard_draws_what_the_database_holds(
    page, browser, live_server, admin_user, dashboard_data, screenshot
):
    now, _ = dashboard_data
    log_in(page, admin_user)

    # Linked from the app index, under the app's name.
    page.goto("/admin/django_scheduler_api/")
    page.click("a:text-is('Dashboard')")
    page.wait_for_url(f"**{URL}")
    assert "Scheduler" in page.locator("div.breadcrumbs").inner_text()

    # At a glance: alive, failures, running, next fire.
    assert page.locator("#card-alive .figure").inner_text() == "Running"
    hour = datetime.fromisoformat(page.locator("#card-failed").get_attribute("data-since"))
    failed_hour = Execution.objects.filter(
        status__in=("failed", "lost"), scheduled_fire_time__gte=hour
    ).count()
    assert page.locator("#card-failed .figure").inner_text() == str(failed_hour)
    assert page.locator("#card-running .figure").inner_text() == "1"
    assert page.locator("#card-misfires .figure").inner_text() == "1"
    assert DroppedMisfires.objects.get().job_id == "reports.daily"
    assert "reports.daily" in page.locator("#card-misfires").inner_text()

    # Executions per minute: every bar segment is a (minute, status) count of the database.
    drawn = Counter()
    for rect in page.locator("#per-minute rect.bar").all():
        drawn[(rect.get_attribute("data-start"), rect.get_attribute("data-status"))] += int(
            rect.get_attribute("data-count")
        )
    since = now - timedelta(hours=3)
    held = Counter(
        (e.scheduled_fire_time.replace(second=0, microsecond=0).isoformat(), e.status)
        for e in Execution.objects.filter(scheduled_fire_time__gte=since, scheduled_fire_time__lt=now)
    )
    assert drawn == held and sum(drawn.values()) > 300

    # Fire lag: the dots are the quantiles of the database's lags (within a bucket's interpolation).
    dots = page.locator("#fire-lag circle.dot[data-quantile='p50']")
    assert dots.count() >= 30
    lags = sorted(
        (e.started_at - e.scheduled_fire_time).total_seconds()
        for e in Execution.objects.filter(trigger="schedule", scheduled_fire_time__gte=since)
    )
    medians = [float(d.get_attribute("data-seconds")) for d in dots.all()]
    assert all(0.001 <= m <= 0.01 for m in medians), medians  # the seeded lags are 1-10 ms
    assert lags[len(lags) // 2] == pytest.approx(sorted(medians)[len(medians) // 2], abs=0.0025)

    # The grid: one cell per execution (the last 40 of each job), coloured by status, linking to it.
    for job_id in JOBS:
        row = page.locator(f"table.scheduler-grid tr[data-job='{job_id}'] a.scheduler-cell")
        in_range = Execution.objects.filter(job_id=job_id, scheduled_fire_time__gte=now - timedelta(hours=3))
        latest = list(in_range.order_by("-scheduled_fire_time")[:40])
        assert row.count() == len(latest)
        assert [c.get_attribute("data-status") for c in row.all()] == [e.status for e in reversed(latest)]
        if latest:
            assert row.last.get_attribute("href").endswith(f"/execution/{latest[0].pk}/change/")

    # The next 24 hours: each job's ticks are its fires as the scheduler computes them.
    upcoming = {
        u.job_id: u for u in monitoring.upcoming_fires(now, now + timedelta(hours=24), jobs=30, per_job=100)
    }
    for group in page.locator("#upcoming g.fires").all():
        job_id = group.get_attribute("data-job")
        fires = upcoming[job_id]
        assert int(group.get_attribute("data-count")) == len(fires.fires)
        assert group.get_attribute("data-capped") == ("true" if fires.capped else "false")
        # A tick per fire; a job firing more often than the cap is drawn as a band instead.
        assert group.locator("line.fire").count() == (0 if fires.capped else len(fires.fires))
    assert upcoming["sync.crm"].capped and not upcoming["billing.reminders"].capped
    assert page.locator("#upcoming rect.band").count() == 3  # every 1, 2 and 5 minutes
    assert page.locator("#upcoming g.fires").count() == len(JOBS)
    assert page.locator("#upcoming g.fires[data-job='reports.daily'] line.fire").count() == 1

    page.locator("#failures").scroll_into_view_if_needed()
    screenshot(page, "1-light")

    # The same page in the dark theme: the charts take the admin's colours.
    dark = browser.new_context(
        base_url=live_server.url, color_scheme="dark", viewport={"width": 1440, "height": 900}
    )
    dark_page = dark.new_page()
    log_in(dark_page, admin_user)
    dark_page.goto(URL)
    background = dark_page.evaluate("getComputedStyle(document.body).backgroundColor")
    axis = dark_page.evaluate("getComputedStyle(document.querySelector('#per-minute svg text.axis')).fill")
    assert background != "rgb(255, 255, 255)" and axis != "rgb(102, 102, 102)"
    screenshot(dark_page, "2-dark")
    dark.close()

    # A job's page: its recent durations, one bar per execution, each linking to it.
    page.goto("/admin/django_scheduler_api/job/sync.crm/change/")
    bars = page.locator(".field-recent_durations svg rect.bar")
    latest = list(Execution.objects.filter(job_id="sync.crm").order_by("-scheduled_fire_time")[:50])
    assert bars.count() == len(latest) == 50
    assert [int(b.get_attribute("data-ms")) for b in bars.all()] == [e.duration_ms for e in reversed(latest)]
    page.locator(".field-recent_durations").scroll_into_view_if_needed()
    screenshot(page, "3-job-durations")


def test_a_bad_range_is_refused(page, admin_user, transactional_db):
    log_in(page, admin_user)
    response = page.goto(f"{URL}?hours=7")
    assert response.status == 400
    assert "hours must be one of 1, 3, 6, 12, 24" in page.content()


def test_the_dashboard_is_for_staff_only(page, django_user_model, transactional_db):
    django_user_model.objects.create_user("visitor", password="browser-test-password")
    page.goto(URL)
    assert "/admin/login/" in page.url  # not logged in: the admin's login page
