"""Backfill end to end: the ``scheduler backfill`` command in processes of its own, a real
``run_scheduler`` and a real ``qcluster``. Two backfills of one range at once, then a third: each
fire time of the range is recorded and run once. On SQLite with the ORM broker, and on PostgreSQL
with Redis, where the first backfill finds the broker unreachable and the scheduler's outbox sends
its executions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from tests.engine.sites import EXECUTIONS, Site, postgres_redis_site, sqlite_site
from tests.scheduling.conftest import wait_until_finished
from tests.support import ROOT, require_postgres, require_redis

# Processes on databases of their own (tests/engine/sites.py), whatever the suite runs on.
pytestmark = [pytest.mark.integration, pytest.mark.any_db]

JOB, HOURS = "bf.hourly", 24


def day_before_yesterday() -> tuple[str, str]:
    """A past day, 00:00:00 to 23:59:59 UTC: 24 fire times of an hourly job."""
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    end = day + timedelta(hours=HOURS) - timedelta(seconds=1)
    return day.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")


def backfill_command(site: Site, start: str, end: str, **env: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "django", "scheduler", "backfill", JOB, "--start", start, "--end", end]
    return subprocess.Popen(
        [*command, "--json"],
        cwd=ROOT,
        env={**site.env, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def answer(process: subprocess.Popen[str]) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads(out)


def seed(site: Site) -> None:
    site.django(
        f"""
        from django_scheduler_api import services
        services.save_job("{JOB}", {{"handler": "tests.echo", "cron_expression": "0 0 * * * ?"}})
        print(1)
        """
    )


def check_each_fire_ran_once(site: Site, answers: list[dict]) -> None:
    assert sum(a["created"] for a in answers) == HOURS
    assert all(a["fire_times"] == HOURS for a in answers)
    wait_until_finished(site, HOURS)
    fire = site.epoch("scheduled_fire_time")
    rows = site.sql(f"SELECT {fire}, trigger, status FROM {EXECUTIONS} WHERE job_id = '{JOB}'")
    times = sorted(round(when) for when, _, _ in rows)
    assert len(times) == len(set(times)) == HOURS
    assert [b - a for a, b in pairwise(times)] == [3600] * (HOURS - 1)
    assert {(trigger, status) for _, trigger, status in rows} == {("backfill", "succeeded")}
    ids = [e["execution"] for a in answers for e in a["executions"]]
    assert len(ids) == len(set(ids)) == HOURS


def test_backfill_twice_at_once_and_again_runs_each_fire_once_on_sqlite(tmp_path):
    with sqlite_site(tmp_path / "backfill.sqlite3") as site:
        site.qcluster()
        site.scheduler("it:backfill")
        seed(site)
        start, end = day_before_yesterday()
        racing = [backfill_command(site, start, end) for _ in range(2)]
        answers = [answer(p) for p in racing]
        answers.append(answer(backfill_command(site, start, end)))
        assert answers[-1]["created"] == 0 and answers[-1]["already_recorded"] == HOURS
        check_each_fire_ran_once(site, answers)


def test_backfill_with_the_broker_down_is_sent_by_the_outbox_and_runs_once_on_postgres(tmp_path):
    require_postgres()
    require_redis()
    with postgres_redis_site(f"sched_backfill_it_{os.getpid()}", redis_db=13) as site:
        site.qcluster()
        site.scheduler("it:backfill")
        seed(site)
        start, end = day_before_yesterday()
        # Nothing listens on port 1: the executions are recorded, then the send fails.
        unsent = answer(backfill_command(site, start, end, REDIS_URL="redis://127.0.0.1:1/13"))
        assert unsent["created"] == HOURS and {e["sent"] for e in unsent["executions"]} == {False}
        again = answer(backfill_command(site, start, end))
        assert again["created"] == 0
        check_each_fire_ran_once(site, [unsent, again])
