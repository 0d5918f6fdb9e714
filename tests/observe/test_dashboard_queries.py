"""The dashboard's cost does not grow with the history: the same queries, whatever the number of
jobs and executions (what it draws is compared with the data in tests/browser/test_dashboard.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_scheduler_api import monitoring
from django_scheduler_api.admin import charts
from django_scheduler_api.models import Execution
from django_scheduler_api.monitoring import Minute
from tests.observe.conftest import make_execution, make_job

URL = "/admin/django_scheduler_api/dashboard/"
# Session and user; the cards (live nodes, unfinished executions, misfires); per-minute counts, lag
# histograms; the grid (its jobs, their cut-offs, their runs); failures, slowest jobs, upcoming fires.
MAX_QUERIES = 13


def add_history(jobs: int, per_job: int, *, offset: int = 0) -> None:
    now = timezone.now()
    for j in range(offset, offset + jobs):
        job = make_job(f"q.job{j:03d}", cron_expression="0 * * * * ?")
        for i in range(per_job):
            status = Execution.Status.FAILED if i % 7 == 0 else Execution.Status.SUCCEEDED
            make_execution(job, at=now - timedelta(minutes=i + 1, seconds=j), status=status)


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("q-admin", "q@example.com", "pw"))
    return client


def dashboard_queries(client: Client, hours: int) -> list[str]:
    monitoring.cache.clear()
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"{URL}?hours={hours}").status_code == 200
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.django_db
@pytest.mark.parametrize("hours", [3, 24])
def test_the_same_queries_with_ten_times_the_history(staff_client, hours, django_assert_max_num_queries):
    add_history(jobs=3, per_job=5)
    with django_assert_max_num_queries(MAX_QUERIES):
        small = dashboard_queries(staff_client, hours)

    add_history(jobs=30, per_job=50, offset=3)  # more jobs than the grid and the time line show
    with django_assert_max_num_queries(MAX_QUERIES):
        large = dashboard_queries(staff_client, hours)

    assert len(large) == len(small)


@pytest.mark.django_db
def test_the_grid_keeps_the_latest_runs_of_each_job():
    """The cut-off query: each job's last ``per_job`` runs of the range, oldest first, including a
    job with fewer runs than that and a manual trigger at the instant of the cut-off."""
    now = timezone.now()
    busy, quiet = make_job("g.busy"), make_job("g.quiet")
    times = [now - timedelta(minutes=m) for m in range(1, 30)]
    made = [make_execution(busy, at=at) for at in times]
    cut = times[9]  # the 10th latest
    manual = make_execution(busy, at=cut, trigger=Execution.Trigger.MANUAL)
    make_execution(quiet, at=now - timedelta(minutes=5))
    make_execution(quiet, at=now - timedelta(hours=5))  # before the range

    runs = monitoring.recent_runs(["g.busy", "g.quiet"], now - timedelta(hours=3), per_job=10)

    held = sorted([*made[:10], manual], key=lambda e: (e.scheduled_fire_time, str(e.pk)))[-10:]
    assert [run.id for run in runs["g.busy"]] == [e.pk for e in held]
    assert [run.scheduled_fire_time for run in runs["g.quiet"]] == [now - timedelta(minutes=5)]


@pytest.mark.django_db
def test_each_database_computes_the_lag_and_the_minute_as_python_does():
    """The dashboard's lag and minute are each database's own arithmetic (not Django's Python
    functions on SQLite): equal to Python's to the microsecond, for lags under and over a second,
    with and without a fraction in the stored times."""
    job = make_job("q.lag")
    base = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    lags_ms = [0.001, 0.5, 1, 2.5, 999.999, 1000, 61_234.567]
    for i, lag in enumerate(lags_ms):
        make_execution(job, at=base + timedelta(minutes=i, microseconds=i * 7), lag_ms=lag)
    rows = Execution.objects.annotate(
        lag=monitoring._LagSeconds(), minute=monitoring._Minute("scheduled_fire_time")
    ).values_list("started_at", "scheduled_fire_time", "lag", "minute")
    assert len(rows) == len(lags_ms)
    for started, fired, lag, minute in rows:
        assert lag == pytest.approx((started - fired).total_seconds(), abs=1e-6)
        assert minute == fired.replace(second=0, microsecond=0)


def test_the_chart_stacks_every_status_a_minute_can_hold():
    """Waiting runs (overlap policy buffer_one) are drawn and named in the legend like the others."""
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    counts = {status: i + 1 for i, status in enumerate(Execution.Status.values)}
    svg = str(charts.executions_per_minute([Minute(start, counts)]))
    drawn = {s: int(n) for s, n in re.findall(r'data-status="(\w+)" data-count="(\d+)"', svg)}
    assert drawn == counts
    legend = svg.split('<ul class="scheduler-legend">')[1]
    assert re.findall(r'<span class="swatch s-(\w+)"></span>', legend) == list(charts.STATUSES)
    assert set(charts.STATUSES) == set(Execution.Status.values)
