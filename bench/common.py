"""Shared by the engine benchmarks: the machine, percentiles, and sites (databases + brokers).

Run from the repository root, e.g. ``.venv/bin/python bench/fire_lag.py``; the sites are the same
helpers the engine's process tests use (a fresh PostgreSQL database and a Redis database number),
with ``bench.settings`` so the benchmark handlers are installed.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
# The benchmark process itself works on a PostgreSQL database and a django-q2 queue of its own (named
# after the process, so that benchmarks run side by side never share them) in Redis database 12.
BENCH_DB, BENCH_REDIS = f"sched_bench_{os.getpid()}", "redis://127.0.0.1:6379/12"
os.environ.update(
    SCHEDULER_TEST_DB="postgres",
    SCHEDULER_TEST_BROKER="redis",
    SCHEDULER_TEST_Q_SYNC="0",
    SCHEDULER_TEST_Q_NAME=BENCH_DB,
    SCHEDULER_TEST_DB_NAME=BENCH_DB,
    REDIS_URL=BENCH_REDIS,
)

import django  # noqa: E402

django.setup()


def fresh_database() -> None:
    """(Re)create and migrate the benchmark's own database, and empty its Redis queue."""
    import psycopg
    from django.core.management import call_command
    from django.db import connection

    connection.close()
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    call_command("migrate", verbosity=0)
    forget_queue()


def drop_database() -> None:
    import psycopg
    from django.db import connection

    connection.close()
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    forget_queue()


def forget_queue() -> None:
    """Delete this benchmark's keys in Redis (its queue and django-q2's statistics), no others'."""
    import redis

    client = redis.Redis.from_url(BENCH_REDIS)
    for key in client.scan_iter(f"*{BENCH_DB}*"):
        client.delete(key)


# The stored jobs' variety: groups (one of them rare), handlers, about 1 in 20 paused, a few by
# interval, and next fires spread over the 30 days after tomorrow (so none is due while measured).
GROUPS = ("reports", "sync", "billing", "cleanup", "audit")
HANDLERS = ("bench.noop", "bench.report", "bench.sync")


def store_jobs(total: int) -> None:
    """Grow the job table to ``total`` jobs, none of them due for a day, then ``VACUUM ANALYZE``.

    One ``INSERT ... SELECT FROM generate_series`` (PostgreSQL): a million jobs take seconds. Every
    column the statement does not set takes the model field's default, so new fields need no change.
    Job ``i`` is ``s.{i:07d}``: ids sort in insertion order, as ids of a real deployment need not.
    """
    from django.db import connection

    from django_scheduler_api.models import Job

    have = Job.objects.count()
    computed = {
        "id": "'s.' || lpad(i::text, 7, '0')",
        "name": "'job ' || i",
        "group": f"(ARRAY{list(GROUPS[:-1])})[1 + i % {len(GROUPS) - 1}]",
        "handler": f"(ARRAY{list(HANDLERS)})[1 + (i / 7) % {len(HANDLERS)}]",
        "state": "CASE WHEN i % 20 = 3 THEN 'paused' ELSE 'planned' END",
        "cron_expression": "CASE WHEN i % 10 = 9 THEN '' ELSE '0 ' || i % 60 || ' * * * ?' END",
        "interval": "CASE WHEN i % 10 = 9 THEN 60 + i % 3600 END",
        "next_fire_time": "now() + interval '1 day' + (i % 2592000) * interval '1 second'",
        "created_at": "now()",
        "updated_at": "now()",
    }
    # The rare group: one job in a thousand, so that a filter on it finds few among many.
    computed["group"] = f"CASE WHEN i % 1000 = 1 THEN '{GROUPS[-1]}' ELSE {computed['group']} END"
    columns, values, params = [], [], []
    for field in Job._meta.concrete_fields:
        columns.append(connection.ops.quote_name(field.column))
        if field.column in computed:
            values.append(computed[field.column].replace("%", "%%"))  # a parameter's sign: doubled
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Job._meta.db_table} ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM generate_series(%s, %s) AS i",
            [*params, have, total - 1],
        )
        cursor.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


# Who uses the CPU while a benchmark runs, by the process's command line.
ROLES = (("postgres", "PostgreSQL"), ("redis-server", "Redis"), ("qcluster", "qcluster"),
         ("run_scheduler", "run_scheduler"), ("bench/", "benchmark process"))  # fmt: skip


Snapshot = tuple[float, dict[str, float], float]


def cpu_snapshot() -> Snapshot:
    """(now, CPU seconds used so far by each role's processes, the machine's busy CPU seconds)."""
    import psutil

    used: dict[str, float] = {}
    for process in psutil.process_iter(["cmdline", "cpu_times"]):
        line = " ".join(process.info["cmdline"] or ())
        role = next((name for key, name in ROLES if key in line), "other")
        times = process.info["cpu_times"]
        if times is not None:
            used[role] = used.get(role, 0.0) + times.user + times.system
    total = psutil.cpu_times()
    return time.monotonic(), used, total.user + total.system + total.nice + total.irq + total.softirq


def cpu_use(before: Snapshot, after: Snapshot) -> str:
    """Cores each role kept busy between two snapshots, and the machine's share busy."""
    elapsed = after[0] - before[0]
    roles = sorted(after[1], key=lambda role: -(after[1][role] - before[1].get(role, 0.0)))
    parts = [f"{role} {(after[1][role] - before[1].get(role, 0.0)) / elapsed:.2f}" for role in roles]
    busy = (after[2] - before[2]) / elapsed / (os.cpu_count() or 1)
    return f"machine {busy:.0%} busy; cores used: " + ", ".join(parts)


def machine() -> str:
    """One paragraph: CPUs, CPU model, memory, and the versions the figures depend on."""
    import psutil

    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import psycopg
    import redis

    memory = psutil.virtual_memory().total / 2**30
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres") as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    redis_version = redis.Redis.from_url(BENCH_REDIS).info()["redis_version"]
    return (
        f"nproc {os.cpu_count()}, {model}, {memory:.1f} GiB RAM; Python {platform.python_version()}, "
        f"PostgreSQL {postgres}, Redis {redis_version}, Django {django.get_version()}"
    )
