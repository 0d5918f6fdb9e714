"""The admin dashboard and the metrics endpoint with 100,000 executions in the table.

On a database of its own (PostgreSQL or SQLite, ``--db``), 100 jobs and 100,000 executions spread
over the last 24 hours (mixed statuses, lags and durations). Then each page is requested through
Django's test client as a logged-in superuser (so the figures include rendering), with the database
queries each one makes:

- the dashboard (3 hours and 24 hours), every cache cleared before each request (cold figures);
- ``GET /scheduler/metrics`` with the cache off;
- a job's change page (its durations chart);
- the peer: the admin's own execution list on the same table (Django's changelist, 50 rows).

With ``--ref REV`` the same pages are also measured with the code of git revision ``REV`` (its
tree exported to a temporary directory) on the same database, in alternating rounds, each round in
a fresh process: on a busy machine the ratio of the two is the figure to read, not the times.

Usage: ``.venv/bin/python bench/dashboard.py [--db postgres|sqlite] [--executions 100000]
[--ref REV] [--rounds 3]``; ``BENCH_QUERIES=1`` prints each page's slowest queries.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A child measuring another revision imports that revision's package first (see ``run_child``).
sys.path.insert(0, str(ROOT))
if os.environ.get("BENCH_CODE"):
    sys.path.insert(0, os.environ["BENCH_CODE"])

PAGES = {
    "dashboard, last 3 h": "/admin/django_scheduler_api/dashboard/",
    "dashboard, last 24 h": "/admin/django_scheduler_api/dashboard/?hours=24",
    "GET /scheduler/metrics": "/scheduler/metrics",
    "job page (durations chart)": "/admin/django_scheduler_api/job/bench.job007/change/",
    "peer: admin execution list": "/admin/django_scheduler_api/execution/",
}
REPEAT = 7  # requests of each page per round
STATUSES = ["succeeded"] * 90 + ["failed"] * 6 + ["skipped"] * 2 + ["lost", "cancelled"]


def setup_django(db: str, name: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="bench.settings", SCHEDULER_TEST_DB=db, SCHEDULER_TEST_DB_NAME=name
    )
    import django

    django.setup()


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(sql)


def seed(count: int) -> None:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone

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
    # Alive for the whole run (a long NODE_TIMEOUT is not needed: last_seen is far in the future).
    later = now + timedelta(days=1)
    SchedulerNode.objects.create(name="bench:1", hostname="bench", pid=1, started_at=now, last_seen=later)
    User.objects.create_superuser("bench", "bench@example.com", "bench")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def measure_pages() -> dict[str, dict]:
    """Each page ``REPEAT`` times, every cache cleared first: the milliseconds and the queries."""
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "METRICS_CACHE_TTL": 0}
    client = Client()
    client.force_login(User.objects.get(username="bench"))
    results = {}
    for name, url in PAGES.items():
        times, queries = [], 0
        client.get(url)  # warm: imports, templates, the connection
        for _ in range(REPEAT):
            cache.clear()
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            queries = len(captured.captured_queries)
        results[name] = {"times": times, "queries": queries}
        if os.environ.get("BENCH_QUERIES"):  # the slowest queries of the last request, on stderr
            for query in sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:5]:
                print(f"{name}: {query['time']} s {query['sql'][:200]}", file=sys.stderr)
    return results


def run_child(args: argparse.Namespace, name: str, code: str | None) -> dict[str, dict]:
    """One round in a fresh process, with the package of ``code`` (a directory) or of this tree."""
    env = {**os.environ, "BENCH_CODE": code or ""}
    command = [sys.executable, __file__, "--db", args.db, "--child", name]
    done = subprocess.run(command, env=env, check=False, capture_output=True, text=True)
    print(done.stderr, end="", file=sys.stderr)
    done.check_returncode()
    return json.loads(done.stdout.strip().splitlines()[-1])


def export(rev: str, into: str) -> str:
    """The tree of git revision ``rev``, written under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", into], input=archive.stdout, check=True)
    return into


def report(runs: dict[str, list[dict[str, dict]]]) -> None:
    labels = list(runs)
    head = f"{'page':<30}" + "".join(f" {label + ' ms':>16} {'p90':>7} {'queries':>7}" for label in labels)
    print(head + (f" {labels[0] + ' / ' + labels[1]:>16}" if len(labels) > 1 else ""))
    for page in PAGES:
        line, medians = f"{page:<30}", []
        for label in labels:
            times = sorted(t for result in runs[label] for t in result[page]["times"])
            medians.append(statistics.median(times))
            p90 = times[int(len(times) * 0.9)]
            line += f" {medians[-1]:>16.1f} {p90:>7.1f} {runs[label][-1][page]['queries']:>7}"
        if len(labels) > 1:
            line += f" {medians[0] / medians[1]:>16.2f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--ref", help="a git revision to measure beside this tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the database of a measuring child
    args = parser.parse_args()
    if args.child:
        setup_django(args.db, args.child)
        print(json.dumps(measure_pages()))
        return
    scratch = tempfile.mkdtemp(prefix="bench-dashboard-")
    name = f"sched_bench_dashboard_{os.getpid()}"
    if args.db == "sqlite":
        name = os.path.join(scratch, "bench.sqlite3")
    else:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{name}"')
    try:
        setup_django(args.db, name)
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        seed(args.executions)
        connection.close()
        took = time.perf_counter() - started
        print(f"{args.db}: seeded {args.executions:,} executions of 100 jobs in {took:.0f} s")
        codes = {"this tree": None}
        if args.ref:
            codes[args.ref] = export(args.ref, tempfile.mkdtemp(dir=scratch))
        runs: dict[str, list] = {label: [] for label in codes}
        for i in range(args.rounds):
            order = list(codes.items()) if i % 2 == 0 else list(reversed(codes.items()))
            for label, code in order:
                runs[label].append(run_child(args, name, code))
        report(runs)
    finally:
        if args.db == "postgres":
            pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        subprocess.run(["rm", "-rf", scratch], check=False)


if __name__ == "__main__":
    main()
