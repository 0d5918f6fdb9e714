"""``GET /scheduler/metrics``: parsed with prometheus_client's own parser, every value equal to what the
database holds, after a real scheduler and a real django-q2 cluster ran jobs, and on chosen rows."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from django_scheduler_api import monitoring
from django_scheduler_api.engine import store
from django_scheduler_api.models import Execution, Job, PrunedExecutions, SchedulerNode
from tests.observe.conftest import make_execution, make_job
from tests.support import ManagedProcess, child_env, wait_for

URL = "/scheduler/metrics"


def scrape(client: APIClient | None = None, **headers: str) -> dict[str, dict[tuple, float]]:
    """The metrics as {sample name: {sorted label items: value}}, read by prometheus_client's parser."""
    response = (client or APIClient()).get(URL, **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def by_label(samples: dict[str, dict[tuple, float]], name: str, label: str) -> dict[str, float]:
    return {dict(labels)[label]: value for labels, value in samples[name].items()}


def bucket_counts(samples, name: str, **labels: str) -> dict[float, float]:
    want = set(labels.items())
    return {
        float(dict(key)["le"]): value for key, value in samples[f"{name}_bucket"].items() if want <= set(key)
    }


def expected_buckets(values: list[float], bounds: tuple[float, ...]) -> dict[float, float]:
    return {**{b: sum(v <= b for v in values) for b in bounds}, math.inf: len(values)}


@pytest.mark.django_db
def test_every_metric_equals_the_rows_it_counts():
    now = timezone.now()
    job, slow = make_job("m.fast"), make_job("m.slow", handler="tests.sleep")
    make_job("m.paused", state=Job.State.PAUSED)
    lags = [0.4, 1.5, 3, 8, 40, 700, 1500]  # ms
    for i, lag in enumerate(lags):
        make_execution(job, at=now - timedelta(seconds=60 + i), lag_ms=lag, duration_ms=4 + i)
    make_execution(slow, at=now - timedelta(seconds=50), duration_ms=2500, status=Execution.Status.FAILED)
    make_execution(slow, at=now - timedelta(seconds=40), lag_ms=None, status=Execution.Status.SKIPPED)
    make_execution(job, at=now - timedelta(seconds=20), trigger=Execution.Trigger.MISFIRE, lag_ms=61_000)
    make_execution(job, at=now - timedelta(seconds=10), trigger=Execution.Trigger.MANUAL, lag_ms=5)
    make_execution(job, at=now - timedelta(hours=2), lag_ms=9000)  # outside the window
    make_execution(slow, at=now - timedelta(seconds=95), status=Execution.Status.RUNNING)
    make_execution(job, at=now - timedelta(seconds=5), status=Execution.Status.QUEUED, lag_ms=None)
    make_execution(job, at=now - timedelta(seconds=1), status="queued", lag_ms=None, enqueued_at=None)
    # Kept by the overlap policy buffer_one: pending, no outcome yet (docs/scheduling.rst, "Overlap").
    make_execution(slow, at=now - timedelta(seconds=2), status=Execution.Status.WAITING, lag_ms=None)
    SchedulerNode.objects.create(name="alive", hostname="h", pid=1, started_at=now, last_seen=now)
    old = now - timedelta(hours=1)
    SchedulerNode.objects.create(name="dead", hostname="h", pid=2, started_at=old, last_seen=old)

    samples = scrape()

    assert by_label(samples, "scheduler_fires_total", "trigger") == {
        **dict.fromkeys(Execution.Trigger.values, 0),  # every trigger, those without fires at 0
        "schedule": 14,
        "misfire": 1,
        "manual": 1,
        "retry": 0,
    }
    statuses = dict(Execution.objects.values_list("status").annotate(n=Count("pk")))
    assert by_label(samples, "scheduler_executions_finished_total", "status") == {
        status: statuses.get(status, 0) for status in Execution.FINISHED
    }
    assert by_label(samples, "scheduler_misfires_total", "outcome") == {"fired": 1, "dropped": 0}
    pending = by_label(samples, "scheduler_executions_pending", "status")
    assert pending == {"queued": 2, "running": 1, "waiting": 1}
    assert by_label(samples, "scheduler_jobs", "state") == {"planned": 2, "paused": 1}
    assert samples["scheduler_live_nodes"] == {(): 1}
    assert samples["scheduler_outbox_executions"] == {(): 1}
    assert samples["scheduler_oldest_running_execution_age_seconds"][()] == pytest.approx(95, abs=5)
    assert samples["scheduler_metrics_window_seconds"] == {(): 900}

    # Fire lag: the scheduled fires of the window only (not the misfire, the manual one, the old one).
    window_lags = [lag / 1000 for lag in lags] + [0.002, 0.002]  # + the failed and the running one
    assert bucket_counts(samples, "scheduler_fire_lag_seconds") == expected_buckets(
        window_lags, monitoring.LAG_BUCKETS
    )
    assert samples["scheduler_fire_lag_seconds_gcount"][()] == len(window_lags)
    assert samples["scheduler_fire_lag_seconds_gsum"][()] == pytest.approx(sum(window_lags))

    fast = [(4 + i) / 1000 for i in range(len(lags))] + [0.01, 0.01]  # + the misfire and the manual one
    assert bucket_counts(samples, "scheduler_handler_duration_seconds", handler="tests.echo") == (
        expected_buckets(fast, monitoring.DURATION_BUCKETS)
    )
    assert bucket_counts(samples, "scheduler_handler_duration_seconds", handler="tests.sleep") == (
        expected_buckets([2.5], monitoring.DURATION_BUCKETS)
    )
    assert samples["scheduler_handler_duration_seconds_gsum"][(("handler", "tests.sleep"),)] == 2.5


@pytest.mark.django_db
def test_pruning_never_makes_a_counter_go_down():
    job = make_job("m.prune")
    long_ago = timezone.now() - timedelta(days=40)
    for i, status in enumerate(("succeeded", "succeeded", "failed")):
        execution = make_execution(job, at=long_ago + timedelta(minutes=i), status=status)
        Execution.objects.filter(pk=execution.pk).update(created_at=long_ago)
    make_execution(job, status="succeeded")
    before = scrape()

    assert store.prune(timezone.now(), retention=timedelta(days=30), limit=100) == 3
    monitoring.cache.clear()
    after = scrape()

    assert Execution.objects.count() == 1
    assert dict(PrunedExecutions.objects.values_list("status", "count")) == {"succeeded": 2, "failed": 1}
    for name in ("scheduler_fires_total", "scheduler_executions_finished_total"):
        assert after[name] == before[name]


@pytest.mark.django_db
def test_the_answer_is_cached_for_the_ttl(django_assert_num_queries, settings):
    make_execution(make_job("m.cache"))
    with django_assert_num_queries(8):
        first = scrape()
    make_execution(make_job("m.cache2"))
    with django_assert_num_queries(0):
        assert scrape() == first  # the new row shows after METRICS_CACHE_TTL

    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "METRICS_CACHE_TTL": 0}
    assert by_label(scrape(), "scheduler_fires_total", "trigger")["schedule"] == 2


@pytest.mark.django_db
def test_openmetrics_when_asked_and_json_errors():
    make_execution(make_job("m.om"))
    response = APIClient().get(URL, HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().endswith("# EOF\n")

    refused = APIClient().get(URL, HTTP_ACCEPT="application/json")
    assert refused.status_code == 406
    assert refused["Content-Type"] == "application/json"
    assert "detail" in refused.json()


@pytest.mark.django_db
def test_the_local_only_guard_applies(unchanged_executions):
    response = APIClient().get(URL, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert response.json()["detail"]


@pytest.fixture
def unchanged_executions(db):
    before = list(Execution.objects.values())
    yield
    assert list(Execution.objects.values()) == before


SCHEDULE = {"cron_expression": "* * * * * ?"}


@pytest.mark.integration
def test_metrics_after_a_real_run(qcluster, settings):
    """A real ``run_scheduler`` fires jobs every second on a real ``qcluster``; then every metric is
    what the database holds."""
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "METRICS_CACHE_TTL": 0}
    make_job("real.echo", **SCHEDULE)
    make_job("real.fail", handler="tests.fail", **SCHEDULE)
    scheduler = ManagedProcess(
        "run_scheduler", "--node-name", "metrics:1", env=child_env(), ready="Scheduler metrics:1 started"
    ).start()
    try:
        wait_for(lambda: Execution.objects.filter(status__in=Execution.FINISHED).count() >= 6, timeout=60)
        live = scrape()
        assert live["scheduler_live_nodes"] == {(): 1}
        Job.objects.update(state=Job.State.PAUSED)
    finally:
        scheduler.stop()
    wait_for(lambda: not Execution.objects.exclude(status__in=Execution.FINISHED).exists(), timeout=60)

    samples = scrape()

    rows = Execution.objects.all()
    assert by_label(samples, "scheduler_fires_total", "trigger") == {
        trigger: rows.filter(trigger=trigger).count() for trigger in Execution.Trigger.values
    }
    assert by_label(samples, "scheduler_executions_finished_total", "status") == {
        status: rows.filter(status=status).count() for status in Execution.FINISHED
    }
    assert by_label(samples, "scheduler_executions_pending", "status") == {
        "queued": 0,
        "running": 0,
        "waiting": 0,
    }
    assert by_label(samples, "scheduler_jobs", "state") == {"planned": 0, "paused": 2}
    assert samples["scheduler_live_nodes"] == {(): 0}  # a stopped scheduler deletes its node row
    assert samples["scheduler_outbox_executions"] == {(): 0}
    assert samples["scheduler_oldest_running_execution_age_seconds"] == {(): 0}

    scheduled = rows.filter(trigger=Execution.Trigger.SCHEDULE, started_at__isnull=False)
    lags = [(e.started_at - e.scheduled_fire_time).total_seconds() for e in scheduled]
    assert bucket_counts(samples, "scheduler_fire_lag_seconds") == expected_buckets(
        lags, monitoring.LAG_BUCKETS
    )
    assert samples["scheduler_fire_lag_seconds_gsum"][()] == pytest.approx(sum(lags), abs=1e-3)
    for handler in ("tests.echo", "tests.fail"):
        durations = [e.duration_ms / 1000 for e in rows.filter(handler=handler, duration_ms__isnull=False)]
        assert durations, handler
        assert bucket_counts(samples, "scheduler_handler_duration_seconds", handler=handler) == (
            expected_buckets(durations, monitoring.DURATION_BUCKETS)
        )
    assert rows.filter(status="failed").count() == rows.filter(handler="tests.fail").count()
