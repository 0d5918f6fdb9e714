"""The admin dashboard and the metrics endpoint with 100,000 executions in the table.

On a PostgreSQL database of its own, 100 jobs and 100,000 executions spread over the last 24 hours
(mixed statuses, lags and durations). Then, each page requested through Django's test client as a
logged-in superuser (so the figures include rendering), median and p90 of 15 requests, with the
database queries each one makes:

- the dashboard (3 hours and 24 hours), the metrics' figures computed afresh each time (no cache);
- ``GET /scheduler/metrics`` with the cache off;
- a job's change page (its durations chart);
- the peer: the admin's own execution list on the same table (Django's changelist, 50 rows).

Usage: ``.venv/bin/python bench/dashboard.py [--executions 100000]`` (about a minute).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = f"sched_bench_dashboard_{os.getpid()}"
os.environ.update(
    DJANGO_SETTINGS_MODULE="bench.settings",
    SCHEDULER_TEST_DB="postgres",
    SCHEDULER_TEST_DB_NAME=DB_NAME,
)

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

REPEAT = 15
STATUSES = ["succeeded"] * 90 + ["failed"] * 6 + ["skipped"] * 2 + ["lost", "cancelled"]


def admin(sql: str) -> None:
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(sql)


def seed(count: int) -> None:
    from django_scheduler_api import services
    from django_scheduler_api.models import Execution, SchedulerNode

    rng = random.Random(14)
    now = timezone.now()
    jobs = [f"bench.job{i:03d}" for i in range(100)]
    for job_id in jobs:
        services.save_job(job_id, {"handler": "tests.echo", "cron_expression": "0 * * * * ?"})
    rows = []
    for i in range(count):
        at = now - timedelta(seconds=86400 * i / count)
        started = at + timedelta(milliseconds=rng.lognormvariate(0.7, 0.6))
        duration = int(rng.lognormvariate(4, 1))
        rows.append(
            Execution(
                job_id=jobs[i % len(jobs)], handler="tests.echo", trigger="schedule",
                status=rng.choice(STATUSES), scheduled_fire_time=at, fire_time=at, enqueued_at=at,
                started_at=started, finished_at=started + timedelta(milliseconds=duration),
                duration_ms=duration,
            )
        )  # fmt: skip
    Execution.objects.bulk_create(rows, batch_size=5000)
    SchedulerNode.objects.create(name="bench:1", hostname="bench", pid=1, started_at=now, last_seen=now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def measure(client: Client, url: str) -> tuple[float, float, int]:
    """Median and p90 milliseconds of ``REPEAT`` requests, and the queries of one."""
    from django.core.cache import cache

    times, queries = [], 0
    for _ in range(REPEAT):
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(captured.captured_queries)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)], queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=100_000)
    args = parser.parse_args()
    admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{DB_NAME}"')
    try:
        call_command("migrate", verbosity=0)
        settings.SCHEDULER_API = {**settings.SCHEDULER_API, "METRICS_CACHE_TTL": 0}
        started = time.perf_counter()
        seed(args.executions)
        print(f"seeded {args.executions:,} executions of 100 jobs in {time.perf_counter() - started:.0f} s")
        from django.contrib.auth.models import User

        User.objects.create_superuser("bench", "bench@example.com", "bench")
        client = Client()
        client.force_login(User.objects.get(username="bench"))
        pages = {
            "dashboard, last 3 h": "/admin/django_scheduler_api/dashboard/",
            "dashboard, last 24 h": "/admin/django_scheduler_api/dashboard/?hours=24",
            "GET /scheduler/metrics": "/scheduler/metrics",
            "job page (durations chart)": "/admin/django_scheduler_api/job/bench.job007/change/",
            "peer: admin execution list": "/admin/django_scheduler_api/execution/",
        }
        results = {name: measure(client, url) for name, url in pages.items()}
        if os.environ.get("BENCH_PROFILE"):  # where a dashboard request spends its time
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.runcall(client.get, pages["dashboard, last 3 h"])
            pstats.Stats(profile).sort_stats(os.environ["BENCH_PROFILE"]).print_stats(30)
        if os.environ.get("BENCH_QUERIES"):  # the slowest queries of a dashboard request
            with CaptureQueriesContext(connection) as captured:
                client.get(pages["dashboard, last 3 h"])
            for query in sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:6]:
                print(query["time"], query["sql"][:300])
        peer = results["peer: admin execution list"][0]
        print(f"{'page':<30} {'median ms':>10} {'p90 ms':>8} {'queries':>8} {'/ peer':>7}")
        for name, (median, p90, queries) in results.items():
            print(f"{name:<30} {median:>10.1f} {p90:>8.1f} {queries:>8} {median / peer:>7.2f}")
    finally:
        connection.close()
        admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
