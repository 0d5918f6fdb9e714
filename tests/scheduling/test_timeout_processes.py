"""Timeouts end to end (docs/scheduling.rst, "Timeouts"): real ``run_scheduler`` and ``qcluster``.

Jobs without a timeout and jobs with one fire at the same instant. A handler that outruns its
timeout is recorded failed with the timeout's error, by its worker (it can be interrupted) or by a
scheduler's sweep (it cannot: django-q2 replaces its worker process); the others succeed.
"""

from __future__ import annotations

import pytest

from tests.engine.sites import Site
from tests.scheduling.conftest import wait_until_finished

# Processes on databases of their own (tests/engine/sites.py), whatever the suite runs on.
pytestmark = [pytest.mark.integration, pytest.mark.any_db]

TIMED_OUT = "Timed out after 1 s (the job's timeout); the handler was stopped."
CALM = 3  # jobs without a timeout firing with the timed ones


def seed(site: Site) -> None:
    """``CALM`` jobs sleeping 2 s, one sleeping 600 s with a timeout of 1 s and one that cannot be
    interrupted (SIGALRM blocked) with the same timeout: all firing once, on the same whole second
    3 s ahead."""
    site.django(
        f"""
        import json
        from datetime import timedelta
        from django.utils import timezone
        from django_scheduler_api import services
        at = timezone.now().replace(microsecond=0) + timedelta(seconds=3)
        for i in range({CALM}):
            services.save_job(f"calm.{{i}}", {{"handler": "tests.sleep", "data": {{"seconds": 2}},
                                              "start_time": at}})
        services.save_job("timed.sleep", {{"handler": "tests.sleep", "data": {{"seconds": 600}},
                                          "start_time": at, "timeout": 1}})
        services.save_job("timed.uninterruptible", {{"handler": "tests.uninterruptible",
                                                    "data": {{"seconds": 600}},
                                                    "start_time": at, "timeout": 1}})
        print(json.dumps(at.isoformat()))
        """
    )


def check(site: Site) -> None:
    wait_until_finished(site, CALM + 2)
    rows = site.sql(
        "SELECT job_id, status, error, "
        f"{site.epoch('finished_at')} - {site.epoch('started_at')}, "
        f"{site.epoch('scheduled_fire_time')} FROM django_scheduler_api_execution"
    )
    outcomes = {job: (status, error) for job, status, error, _, _ in rows}
    assert len(rows) == CALM + 2
    assert len({when for *_, when in rows}) == 1  # one instant for all
    assert outcomes["timed.sleep"] == ("failed", TIMED_OUT)
    assert outcomes["timed.uninterruptible"] == ("failed", TIMED_OUT)
    assert {outcomes[f"calm.{i}"] for i in range(CALM)} == {("succeeded", None)}
    ran = {job: elapsed for job, _, _, elapsed, _ in rows}
    assert ran["timed.sleep"] >= 1 - 0.01  # stopped at its deadline, not before


def test_a_timed_out_handler_fails_alone_on_sqlite(lite):
    lite.qcluster()
    lite.scheduler("it:timeouts")
    seed(lite)
    check(lite)


def test_a_timed_out_handler_fails_alone_on_postgres(pg):
    pg.qcluster()
    pg.scheduler("it:timeouts")
    seed(pg)
    check(pg)
