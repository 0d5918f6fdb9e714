"""Overlap end to end (docs/scheduling.rst, "Overlap"): real ``run_scheduler`` and ``qcluster``.

Two jobs fire every second for 10 s with handlers longer than a second: one under ``buffer_one``
(never two runs at once, never two fires waiting at once, a fire skipped only while one waits, a
waiting one released only once the run before it ended), one under ``skip`` with
``max_concurrent`` 2 (never three runs at once). Everything is read from the recorded times, taken
on the same host's clock; on PostgreSQL two schedulers share the work and one is killed halfway.
"""

from __future__ import annotations

import signal
import time
from itertools import combinations, pairwise

import pytest

from tests.engine.sites import Site
from tests.scheduling.conftest import wait_until_finished
from tests.support import wait_for

# Processes on databases of their own (tests/engine/sites.py), whatever the suite runs on.
pytestmark = [pytest.mark.integration, pytest.mark.any_db]

FIRES = 10
Q_WORKERS = 4  # the sites' qcluster (tests/scheduling/conftest.py): room for three runs at once
COLUMNS = ("scheduled", "status", "created", "started", "finished", "released")


def seed(site: Site) -> int:
    """The two jobs, firing every second for ``FIRES`` seconds from a whole second 3 s ahead
    (returned, Unix seconds)."""
    return site.django(
        f"""
        import json
        from datetime import timedelta
        from django.utils import timezone
        from django_scheduler_api import services
        start = timezone.now().replace(microsecond=0) + timedelta(seconds=3)
        window = {{"cron_expression": "* * * * * ?", "start_time": start,
                   "end_time": start + timedelta(seconds={FIRES - 1})}}
        services.save_job("buffered", {{"handler": "tests.sleep", "data": {{"seconds": 2.5}},
                                       "overlap_policy": "buffer_one", **window}})
        services.save_job("two", {{"handler": "tests.sleep", "data": {{"seconds": 3.5}},
                                  "overlap_policy": "skip", "max_concurrent": 2, **window}})
        print(json.dumps(round(start.timestamp())))
        """
    )


def runs(site: Site, job: str) -> list[dict]:
    epochs = ", ".join(
        site.epoch(column)
        for column in ("scheduled_fire_time", "created_at", "started_at", "finished_at", "released_at")
    )
    rows = site.sql(
        f"SELECT status, {epochs} FROM django_scheduler_api_execution WHERE job_id = '{job}' "
        "ORDER BY scheduled_fire_time"
    )
    return [
        dict(zip(COLUMNS, (scheduled, status, created, started, finished, released), strict=True))
        for status, scheduled, created, started, finished, released in rows
    ]


def peak(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant (a run ending as another starts is not an overlap)."""
    events = sorted([(end, -1) for _, end in intervals] + [(start, 1) for start, _ in intervals])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def check(site: Site) -> None:
    wait_until_finished(site, 2 * FIRES)
    buffered, two = runs(site, "buffered"), runs(site, "two")
    for fires in (buffered, two):
        assert len(fires) == FIRES  # every fire recorded once
        assert {f["status"] for f in fires} <= {"succeeded", "skipped"}

    ran = sorted((f for f in buffered if f["status"] == "succeeded"), key=lambda f: f["started"])
    assert peak([(f["started"], f["finished"]) for f in ran]) == 1
    waited = [f for f in buffered if f["released"] is not None]
    assert waited and len(ran) < FIRES  # some fires waited, some were skipped
    # Never two waiting at once.
    for a, b in combinations(waited, 2):
        assert a["released"] <= b["created"] or b["released"] <= a["created"]
    # A waiting run is released only after the run before it ended.
    for before, after in pairwise(ran):
        if after["released"] is not None:
            assert after["released"] >= before["finished"]
    # A fire is skipped only while another waits.
    for skipped in (f for f in buffered if f["status"] == "skipped"):
        assert any(w["created"] <= skipped["created"] <= w["released"] for w in waited)

    ran_two = [f for f in two if f["status"] == "succeeded"]
    # Two admitted at once (from its claim to its end a run holds a place; each lasts 3.5 s, so the
    # next second's fire finds the first still holding one, however late the workers start them)...
    assert peak([(f["created"], f["finished"]) for f in ran_two]) == 2
    # ... never three running, and fires skipped meanwhile.
    assert peak([(f["started"], f["finished"]) for f in ran_two]) <= 2
    assert len(ran_two) < FIRES


def test_buffer_one_and_max_concurrent_on_sqlite(lite):
    lite.qcluster()
    lite.scheduler("it:overlap")
    seed(lite)
    check(lite)


def test_buffer_one_and_max_concurrent_with_two_schedulers_one_killed_on_postgres(pg):
    pg.qcluster()
    victim = pg.scheduler("it:victim")
    pg.scheduler("it:survivor")
    start = seed(pg)
    wait_for(lambda: time.time() >= start + FIRES / 2, timeout=60, interval=0.1)
    victim.signal(signal.SIGKILL)
    check(pg)
