"""Databases and brokers of their own for the engine's process tests, whatever DB the suite runs on.

A ``Site`` is a database (a fresh PostgreSQL database or SQLite file) plus a broker (a Redis
database number or django-q2's ORM broker), migrated by a child process. Only child processes use it
through Django (``run_scheduler``, ``qcluster``, the test app's ``site_jobs`` command to create jobs);
the test reads results with plain SQL, so the suite's own database and transactions never get in the way.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import ROOT, ManagedProcess, child_env

EXECUTIONS = "django_scheduler_api_execution"


@dataclass
class Site:
    """Where the child processes of one test module keep their state."""

    env: dict[str, str]
    kind: str  # "postgres" | "sqlite"
    dsn: str  # database name or SQLite path
    processes: list[ManagedProcess] = field(default_factory=list)

    def django(self, code: str) -> Any:
        """Run ``code`` in ``manage.py shell`` on this site; it prints JSON, which is returned."""
        out = _manage(self.env, "shell", "--no-imports", "-c", textwrap.dedent(code))
        lines = out.strip().splitlines()
        return json.loads(lines[-1]) if lines else None

    def add_jobs(self, prefix: str, count: int, seconds: int | None, lead: float = 2, **fields: Any) -> int:
        """Create ``count`` jobs firing every second for ``seconds`` (None: forever), from a whole
        second at least ``lead`` seconds ahead, which is returned (Unix seconds). The child computes
        the start on its own clock, so however long it takes to start, the first fire is ahead."""
        options = [
            "--prefix",
            prefix,
            "--count",
            str(count),
            "--lead",
            str(lead),
            "--fields",
            json.dumps(fields),
        ]
        if seconds:
            options += ["--seconds", str(seconds)]
        return json.loads(_manage(self.env, "site_jobs", "add", *options).strip().splitlines()[-1])

    def all_finished(self, total: int) -> bool:
        """At least ``total`` executions exist and every one has finished."""
        (count, pending), *_ = self.sql(
            f"SELECT count(*), sum(CASE WHEN finished_at IS NULL THEN 1 ELSE 0 END) FROM {EXECUTIONS}"
        )
        return count >= total and not pending

    def sql(self, query: str) -> list[tuple]:
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(**_pg_params(self.dsn)) as conn:
                return conn.execute(query).fetchall()
        with sqlite3.connect(self.dsn, timeout=30) as conn:
            return conn.execute(query).fetchall()

    def epoch(self, column: str) -> str:
        """SQL for a datetime column as Unix seconds (fractional)."""
        if self.kind == "postgres":
            return f"extract(epoch from {column})::float"
        return f"(julianday({column}) - 2440587.5) * 86400.0"

    def fires(self) -> list[tuple[str, int, str, str]]:
        """(job, scheduled second, status, trigger) of every execution."""
        return [
            (job, round(when), status, trigger)
            for job, when, status, trigger in self.sql(
                f"SELECT job_id, {self.epoch('scheduled_fire_time')}, status, trigger FROM {EXECUTIONS}"
            )
        ]

    def lags(self, prefix: str = "") -> list[float]:
        """Seconds from scheduled fire time to the start of the task (jobs whose id starts with prefix)."""
        rows = self.sql(
            f"SELECT {self.epoch('started_at')} - {self.epoch('scheduled_fire_time')} FROM {EXECUTIONS} "
            f"WHERE started_at IS NOT NULL AND trigger = 'schedule' AND job_id LIKE '{prefix}%'"
        )
        return sorted(row[0] for row in rows)

    def start(self, *args: str, ready: str, **env: str) -> ManagedProcess:
        process = ManagedProcess(*args, env={**self.env, **env}, ready=ready).start()
        self.processes.append(process)
        return process

    def scheduler(self, name: str, **env: str) -> ManagedProcess:
        return self.start("run_scheduler", "--node-name", name, ready=f"Scheduler {name} started", **env)

    def qcluster(self, **env: str) -> ManagedProcess:
        return self.start("qcluster", ready="running.", SCHEDULER_TEST_Q_LOG_LEVEL="INFO", **env)

    def stop_all(self) -> None:
        while self.processes:
            self.processes.pop().stop()

    def reset(self) -> None:
        """Empty the tables the tests write and the broker's queue."""
        self.stop_all()
        _manage(self.env, "site_jobs", "reset")


def _pg_params(dbname: str) -> dict[str, Any]:
    import os

    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": int(os.environ.get("PGPORT", "5432")),
        "user": os.environ.get("PGUSER", "postgres"),
        "password": os.environ.get("PGPASSWORD", ""),
        "dbname": dbname,
        "autocommit": True,
    }


def _manage(env: dict[str, str], *args: str) -> str:
    """Run a management command in a child process; its stdout (its output if it fails)."""
    command = [sys.executable, "-m", "django", *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise AssertionError(f"{args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _migrate(site: Site) -> Site:
    _manage(site.env, "migrate", "--noinput", "-v0")
    return site


@contextmanager
def postgres_redis_site(name: str, redis_db: int, **env: str) -> Iterator[Site]:
    """A fresh PostgreSQL database ``name`` and a django-q2 queue of the same name in Redis database
    ``redis_db``; both are removed afterwards (only this queue's keys: others may share the database)."""
    import psycopg

    redis_url = f"redis://127.0.0.1:6379/{redis_db}"
    _forget_queue(redis_url, name)
    admin = _pg_params("postgres")
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = child_env(
        SCHEDULER_TEST_Q_SAVE_LIMIT="-1",
        SCHEDULER_TEST_Q_NAME=name,
        SCHEDULER_TEST_DB="postgres",
        SCHEDULER_TEST_DB_NAME=name,
        SCHEDULER_TEST_BROKER="redis",
        REDIS_URL=redis_url,
        **env,
    )
    site = _migrate(Site(env, "postgres", name))
    try:
        yield site
    finally:
        site.stop_all()
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _forget_queue(redis_url, name)


def _forget_queue(redis_url: str, name: str) -> None:
    """Delete the Redis keys of the django-q2 cluster ``name`` (its queue and its statistics)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"*{name}*"):
        client.delete(key)


@contextmanager
def sqlite_site(path: Path, **env: str) -> Iterator[Site]:
    """A fresh SQLite file with django-q2's ORM broker: the embedded default (docs/engine.rst)."""
    env = child_env(
        SCHEDULER_TEST_Q_SAVE_LIMIT="-1", SCHEDULER_TEST_DB="sqlite", SCHEDULER_TEST_DB_NAME=str(path), **env
    )
    env["SCHEDULER_TEST_BROKER"] = "orm"
    site = _migrate(Site(env, "sqlite", str(path)))
    try:
        yield site
    finally:
        site.stop_all()
