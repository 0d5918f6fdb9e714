"""Scale of the read side: the jobs list, the status counts and the admin changelist, by stored jobs.

For 1,000 and then 100,000 stored jobs (the variety of ``common.store_jobs``: five groups, one of
them rare, three handlers, 1 in 20 paused), on PostgreSQL, each page is requested in-process through
Django's test client (from 127.0.0.1, which the API lets in; the admin as a logged-in superuser), so
the figures include the views, serializers and templates:

- ``GET /scheduler/jobs``: the first page, a page half-way in (``skip`` = half the jobs), the jobs
  of the rare group, and the paused jobs;
- ``GET /scheduler/``: the status, with the job counts by state;
- the admin's job changelist, unfiltered and filtered by state.

Each figure is the median of several requests, beside the smallest size's as a ratio, with the
database queries one request makes. ``--plans`` prints ``EXPLAIN (ANALYZE, BUFFERS)`` of every
query each page makes, at each size.

The goal (issue 16): every page under 100 ms with 1,000,000 stored jobs.

Usage: ``.venv/bin/python bench/scale_api.py [--sizes 1000 100000] [--repeat 7] [--plans]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from common import drop_database, fresh_database, machine, store_jobs

PAGES: dict[str, Callable[[int], str]] = {
    "jobs, first page": lambda size: "/scheduler/jobs",
    "jobs, half-way in": lambda size: f"/scheduler/jobs?skip={size // 2}",
    "jobs, rare group": lambda size: "/scheduler/jobs?group=audit",
    "jobs, paused": lambda size: "/scheduler/jobs?state=paused",
    "status counts": lambda size: "/scheduler/",
    "admin changelist": lambda size: "/admin/django_scheduler_api/job/",
    "admin, paused": lambda size: "/admin/django_scheduler_api/job/?state__exact=paused",
}


def client():
    """A test client logged in as a superuser (the API needs no login; the admin does)."""
    from django.contrib.auth.models import User
    from django.test import Client

    user = User.objects.filter(username="bench").first()
    if user is None:
        user = User.objects.create_superuser("bench", "bench@example.com", "bench")
    browser = Client()
    browser.force_login(user)
    return browser


def get(browser, url: str):
    response = browser.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return response


def measure(browser, url: str, repeat: int) -> tuple[float, int]:
    """(median ms, queries) of ``repeat`` requests of ``url``, after one to warm up."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    get(browser, url)
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            get(browser, url)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), len(captured.captured_queries)


def print_plans(browser, name: str, url: str, size: int) -> None:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of each query one request of ``url`` makes (the session's and
    the user's look-ups of the admin included)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        get(browser, url)
    print(f"\n### {name} at {size:,} jobs: `{url}`, {len(captured.captured_queries)} queries\n")
    for query in captured.captured_queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith("SELECT"):
            print(f"    {sql}\n")
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plan = "\n".join(f"    {row[0]}" for row in cursor.fetchall())
        print(f"    {sql}\n{plan}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--repeat", type=int, default=7, help="requests of each page per size")
    parser.add_argument("--plans", action="store_true", help="print each page's query plans")
    args = parser.parse_args()
    print(machine())
    fresh_database()
    sizes = sorted(args.sizes)
    results: dict[str, list[tuple[float, int]]] = {name: [] for name in PAGES}
    try:
        browser = client()
        for size in sizes:
            store_jobs(size)
            for name, url in PAGES.items():
                results[name].append(measure(browser, url(size), args.repeat))
                if args.plans:
                    print_plans(browser, name, url(size), size)
    finally:
        drop_database()
    print()
    print("| page | " + " | ".join(f"{size:,} jobs: ms (queries)" for size in sizes) + " |")
    print("|---" * (len(sizes) + 1) + "|")
    for name, figures in results.items():
        base = figures[0][0]
        cells = [f"{ms:.1f} ({queries})" + (f", {ms / base:.2f}x" if i else "")
                 for i, (ms, queries) in enumerate(figures)]  # fmt: skip
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
