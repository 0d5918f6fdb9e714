"""The scheduling rules end to end: real ``run_scheduler`` and ``qcluster`` processes.

Interval jobs fire every 2 s for 10 s, each fire once: on SQLite with the ORM broker (one scheduler),
and on PostgreSQL with Redis, with two schedulers of which one is killed halfway; jittered ones fire
once each at the delayed instant that ``planning`` computes in this process too.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from django_scheduler_api.planning import Schedule, next_fire_time
from tests.engine.sites import Site
from tests.scheduling.conftest import wait_until_finished
from tests.support import wait_for

# Processes on databases of their own (tests/engine/sites.py), whatever the suite runs on.
pytestmark = [pytest.mark.integration, pytest.mark.any_db]

JOBS, EVERY, FIRES = 4, 2, 5  # 4 jobs, every 2 s, 5 fires (repeat_count 4): 10 s


def seed_intervals(site: Site, prefix: str, lead: int = 3, jitter: int = 0) -> int:
    """``JOBS`` interval jobs anchored on a whole second ``lead`` s ahead (returned, Unix seconds),
    each fire delayed by up to ``jitter`` seconds."""
    return site.django(
        f"""
        import json
        from datetime import timedelta
        from django.utils import timezone
        from django_scheduler_api import services
        anchor = timezone.now().replace(microsecond=0) + timedelta(seconds={lead})
        for i in range({JOBS}):
            services.save_job(f"{prefix}.{{i}}", {{"handler": "tests.echo", "interval": {EVERY},
                              "interval_anchor": anchor, "repeat_count": {FIRES - 1},
                              "jitter": {jitter}}})
        print(json.dumps(round(anchor.timestamp())))
        """
    )


def planned(job_id: str, anchor: int, jitter: int) -> list[int]:
    """The job's fire instants (Unix milliseconds) as ``planning`` computes them here."""
    start = datetime.fromtimestamp(anchor, UTC)
    schedule = Schedule(
        interval=EVERY, interval_anchor=start, repeat_count=FIRES - 1, jitter=jitter, jitter_key=job_id
    )
    fires, after = [], datetime.fromtimestamp(anchor - 1, UTC)
    while (fire := next_fire_time(schedule, after)) is not None:
        fires.append(round(fire.timestamp() * 1000))
        after = fire
    return fires


def check_interval_fires(site: Site, prefix: str, anchor: int, jitter: int = 0) -> None:
    rows = site.sql(
        f"SELECT job_id, {site.epoch('scheduled_fire_time')}, status, trigger, "
        f"{site.epoch('started_at')} FROM django_scheduler_api_execution WHERE job_id LIKE '{prefix}.%'"
    )
    fires = [(job, round(when * 1000), status, trigger) for job, when, status, trigger, _ in rows]
    counts = Counter((job, ms) for job, ms, *_ in fires)
    want = {(f"{prefix}.{i}", ms) for i in range(JOBS) for ms in planned(f"{prefix}.{i}", anchor, jitter)}
    assert len(want) == JOBS * FIRES
    assert set(counts) == want
    assert all(started >= when - 0.001 for _, when, _, _, started in rows)  # never before its instant
    assert max(counts.values()) == 1
    assert {status for _, _, status, _ in fires} == {"succeeded"}
    assert {trigger for *_, trigger in fires} == {"schedule"}
    # After the last fire the schedule is over: no next fire.
    left = site.sql(
        "SELECT count(*) FROM django_scheduler_api_job "
        f"WHERE id LIKE '{prefix}.%' AND next_fire_time IS NOT NULL"
    )
    assert left == [(0,)]


def test_interval_jobs_fire_every_2_s_for_10_s_jittered_or_not_on_sqlite(lite):
    lite.qcluster()
    lite.scheduler("it:intervals")
    anchor = seed_intervals(lite, "every2")
    spread = seed_intervals(lite, "spread", jitter=1)
    wait_until_finished(lite, 2 * JOBS * FIRES)
    check_interval_fires(lite, "every2", anchor)
    check_interval_fires(lite, "spread", spread, jitter=1)


def test_jittered_interval_fires_are_exactly_once_with_two_schedulers_one_killed_on_postgres(pg):
    pg.qcluster()
    victim = pg.scheduler("it:victim")
    pg.scheduler("it:survivor")
    anchor = seed_intervals(pg, "every2", jitter=1)
    wait_for(lambda: time.time() >= anchor + EVERY * FIRES / 2, timeout=60, interval=0.1)
    victim.signal(signal.SIGKILL)
    wait_until_finished(pg, JOBS * FIRES)
    check_interval_fires(pg, "every2", anchor, jitter=1)
