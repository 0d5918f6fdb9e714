"""A calendar suppresses fires end to end: real ``run_scheduler`` and ``qcluster`` processes.

An every-second interval job (12 fires) names a calendar whose cron expression excludes every third
second: those seconds get no execution at all, every other second of the run exactly one, on SQLite
(ORM broker) and on PostgreSQL (Redis). What is expected comes from the count of seconds, not from
a clock: the test waits for the schedule to end (no next fire) and then reads what was recorded.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from tests.engine.sites import Site, postgres_redis_site, sqlite_site
from tests.support import require_postgres, require_redis, wait_for

# Processes on databases of their own (tests/engine/sites.py), whatever the suite runs on.
pytestmark = [pytest.mark.integration, pytest.mark.any_db]

SECONDS = 12  # the run: 12 whole seconds, one fire each unless excluded
EXCLUDED = "0/3 * * * * ?"  # every third second of a minute (0, 3, ..., 57)


def seed(site: Site, lead: int = 5) -> tuple[int, int]:
    """The calendar, and the job anchored ``lead`` s ahead on a whole second; its anchor and its
    first fire as saved (Unix s: a child slower than ``lead`` saves the job after the anchor, and
    its fires start from the save)."""
    return site.django(
        f"""
        import json
        from datetime import timedelta
        from django.utils import timezone
        from django_scheduler_api import calendars, services
        calendars.save_calendar("every-third", {{"cron_expressions": ["{EXCLUDED}"]}})
        anchor = timezone.now().replace(microsecond=0) + timedelta(seconds={lead})
        job, _ = services.save_job("cal.seconds", {{"handler": "tests.echo", "interval": 1,
                                   "interval_anchor": anchor, "repeat_count": {SECONDS - 1},
                                   "calendars": ["every-third"]}})
        print(json.dumps([round(anchor.timestamp()), round(job.next_fire_time.timestamp())]))
        """
    )


def schedule_over(site: Site) -> bool:
    """The job has no next fire left and every recorded execution has finished."""
    (left,), *_ = site.sql(
        "SELECT count(*) FROM django_scheduler_api_job "
        "WHERE id = 'cal.seconds' AND next_fire_time IS NOT NULL"
    )
    return left == 0 and site.all_finished(0)


def check(site: Site, anchor: int, first: int) -> None:
    rows = site.sql(
        f"SELECT {site.epoch('scheduled_fire_time')}, status, trigger FROM django_scheduler_api_execution "
        "WHERE job_id = 'cal.seconds'"
    )
    fired = Counter(round(when) for when, _, _ in rows)
    run = range(first, anchor + SECONDS)
    excluded = {second for second in run if second % 60 % 3 == 0}
    assert excluded and first % 60 % 3 != 0  # the run has excluded seconds, and starts on a fire
    assert set(fired) == set(run) - excluded  # no excluded second fired, every other one did
    assert set(fired.values()) == {1}  # exactly once each
    assert {status for _, status, _ in rows} == {"succeeded"}
    assert {trigger for _, _, trigger in rows} == {"schedule"}


@pytest.fixture
def lite(tmp_path):
    with sqlite_site(tmp_path / "calendars.sqlite3") as site:
        yield site


def test_a_cron_calendar_suppresses_the_seconds_it_excludes_on_sqlite(lite):
    lite.qcluster()
    lite.scheduler("it:calendars")
    anchor, first = seed(lite)
    wait_for(lambda: schedule_over(lite), timeout=120, interval=0.5)
    check(lite, anchor, first)


@pytest.fixture
def pg(tmp_path):
    require_postgres()
    require_redis()
    name = f"sched_calendars_it_{os.getpid()}"
    with postgres_redis_site(name, redis_db=12, SCHEDULER_TEST_Q_WORKERS="2") as site:
        yield site


def test_a_cron_calendar_suppresses_the_seconds_it_excludes_on_postgres(pg):
    pg.qcluster()
    pg.scheduler("it:calendars")
    anchor, first = seed(pg)
    wait_for(lambda: schedule_over(pg), timeout=120, interval=0.5)
    check(pg, anchor, first)
