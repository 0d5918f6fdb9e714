"""Handing over early, end to end (docs/engine.rst, "Handing over early"): real ``run_scheduler``
and ``qcluster``. A fire handed to the workers seconds ahead of its instant is taken back by a pause
that comes before a worker claims it: it does not run at its instant, the job's next fire is that
instant again, and on resume it runs once (a short pause catches up within ``MISFIRE_THRESHOLD``).
"""

from __future__ import annotations

import time

import pytest

from tests.engine.sites import Site
from tests.scheduling.conftest import wait_until_finished
from tests.support import wait_for

# Processes on databases of their own (tests/engine/sites.py), whatever the suite runs on.
pytestmark = [pytest.mark.integration, pytest.mark.any_db]

# Handed over 3.9 s ahead (the most ``LOOKAHEAD`` + ``LOOKAHEAD_MAX`` may sum to, E006). The qcluster
# starts only after the pause, so that the pause comes before any worker's claim however busy the
# machine is; its task then waits in the broker, and the worker that takes it finds nothing to run.
EARLY = {"SCHEDULER_TEST_LOOKAHEAD": "3.9", "SCHEDULER_TEST_LOOKAHEAD_MAX": "0"}


def pause_once_handed_over(site: Site) -> dict:
    """One fire of job ``early`` at a whole second 8 s ahead; as soon as its execution is recorded
    (handed over), pause the job. Returns the instant, how long before it the fire was handed over,
    and what the pause left: executions of the job and its next fire."""
    return site.django(
        """
        import json, time
        from datetime import timedelta
        from django.utils import timezone
        from django_scheduler_api import services
        from django_scheduler_api.models import Execution, Job
        start = timezone.now().replace(microsecond=0) + timedelta(seconds=8)
        services.save_job("early", {"handler": "tests.now", "cron_expression": "* * * * * ?",
                                    "start_time": start, "end_time": start})
        deadline = time.time() + 60
        while not Execution.objects.filter(job_id="early").exists() and time.time() < deadline:
            time.sleep(0.01)
        handed = Execution.objects.get(job_id="early")
        services.pause_jobs(["early"])
        job = Job.objects.get(pk="early")
        print(json.dumps({
            "start": start.timestamp(),
            "ahead": (handed.fire_time - handed.enqueued_at).total_seconds(),
            "executions": Execution.objects.filter(job_id="early").count(),
            "next_fire": job.next_fire_time.timestamp(),
        }))
        """
    )


def check(site: Site) -> None:
    site.scheduler("it:early", **EARLY)
    paused = pause_once_handed_over(site)
    assert paused["ahead"] > 0  # the scheduler sent it to the broker before its instant
    assert paused["executions"] == 0 and paused["next_fire"] == paused["start"]  # taken back
    site.qcluster()  # takes the task handed over
    wait_for(lambda: time.time() > paused["start"] + 2, timeout=60, interval=0.1)
    assert site.fires() == []  # nothing ran at the instant: the worker's claim found nothing
    site.django('from django_scheduler_api import services; services.resume_jobs(["early"]); print(1)')
    wait_until_finished(site, 1)
    assert site.fires() == [("early", round(paused["start"]), "succeeded", "schedule")]  # once


def test_a_pause_takes_back_a_fire_handed_over_early_on_sqlite(lite):
    check(lite)


def test_a_pause_takes_back_a_fire_handed_over_early_on_postgres(pg):
    check(pg)
