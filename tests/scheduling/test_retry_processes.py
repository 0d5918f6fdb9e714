"""Retries end to end: real ``run_scheduler`` and ``qcluster`` processes (docs/scheduling.rst,
"Retries").

Failing one-shot jobs are retried at the delays the policy computes (each attempt due its delay
after the previous one ended, as ``retries.delay`` computes here too), each attempt once, on SQLite
with the ORM broker and on PostgreSQL with Redis. On PostgreSQL, jittered interval jobs whose every
fire fails are retried while two schedulers run and one is killed with SIGKILL halfway: every (fire,
attempt) exactly once.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from django_scheduler_api.models import Job
from django_scheduler_api.retries import RetryPolicy, delay
from tests.engine.sites import EXECUTIONS, Site, postgres_redis_site, sqlite_site
from tests.scheduling.conftest import wait_until_finished
from tests.scheduling.test_processes import EVERY, FIRES, JOBS, planned
from tests.support import require_postgres, require_redis, wait_for

# Processes on databases of their own (tests/engine/sites.py), whatever the suite runs on.
pytestmark = [pytest.mark.integration, pytest.mark.any_db]

# Four attempts 1 s, 1.5 s, 2 s (1.5 x 1.5 = 2.25, at most 2) after each failure.
POLICY = {
    "retry_max_attempts": 4,
    "retry_initial_delay": 1,
    "retry_backoff_coefficient": 1.5,
    "retry_max_delay": 2,
}
# The flaky job succeeds at its third attempt: three executions, no fourth.
FLAKY_SUCCEEDS_AT = 3


def seed_failing(site: Site, prefix: str, count: int, lead: int = 2) -> None:
    """``count`` one-shot jobs that always fail and one that fails twice, all firing ``lead`` s
    from now, with the retry policy ``POLICY``."""
    site.django(
        f"""
        from datetime import timedelta
        from django.utils import timezone
        from django_scheduler_api import services
        start = timezone.now() + timedelta(seconds={lead})
        policy = {POLICY!r}
        for i in range({count}):
            fields = {{"handler": "tests.fail", "start_time": start, **policy}}
            services.save_job(f"{prefix}.fail.{{i}}", fields)
        services.save_job("{prefix}.flaky", {{"handler": "tests.flaky", "start_time": start,
                          "data": {{"succeed_at": {FLAKY_SUCCEEDS_AT}}}, **policy}})
        print("null")
        """
    )


def attempts(site: Site, prefix: str) -> dict[tuple[str, str], list[tuple]]:
    """Every execution of the jobs under ``prefix``, by (job, chain): (attempt, trigger, status,
    scheduled, started, finished, id, first) in attempt order."""
    rows = site.sql(
        f"SELECT job_id, id, first_execution_id, attempt, trigger, status, "
        f"{site.epoch('scheduled_fire_time')}, {site.epoch('started_at')}, {site.epoch('finished_at')} "
        f"FROM {EXECUTIONS} WHERE job_id LIKE '{prefix}.%'"
    )
    chains: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for job, pk, first, attempt, trigger, status, scheduled, started, finished in rows:
        chains[(job, str(first or pk))].append(
            (attempt, trigger, status, scheduled, started, finished, str(pk))
        )
    return {key: sorted(chain) for key, chain in chains.items()}


def seconds(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def check_chain(chain: list[tuple], want: int, statuses: list[str]) -> None:
    """Attempts 1..want, each once, each due the policy's delay after the one before ended, never
    started before it was due."""
    policy = RetryPolicy(*(POLICY[name] for name in Job.RETRY_FIELDS[:4]))
    assert [row[0] for row in chain] == list(range(1, want + 1))
    # The first is the one-shot's fire (a misfire only if the machine held it past the threshold).
    assert chain[0][1] in ("schedule", "misfire")
    assert [row[1] for row in chain[1:]] == ["retry"] * (want - 1)
    assert [row[2] for row in chain] == statuses
    for before, after in pairwise(chain):
        due = seconds(before[5]) + delay(policy, before[0])
        assert abs(seconds(after[3]) - due) <= timedelta(milliseconds=1)  # the database's rounding
        assert after[4] >= after[3] - 0.001  # started when due, not before


def check_retries(site: Site, prefix: str, failing: int) -> None:
    chains = attempts(site, prefix)
    assert len(chains) == failing + 1
    for (job, _), chain in chains.items():
        if job.endswith(".flaky"):
            check_chain(chain, FLAKY_SUCCEEDS_AT, ["failed"] * (FLAKY_SUCCEEDS_AT - 1) + ["succeeded"])
        else:
            check_chain(chain, POLICY["retry_max_attempts"], ["failed"] * POLICY["retry_max_attempts"])


def total(failing: int) -> int:
    return failing * POLICY["retry_max_attempts"] + FLAKY_SUCCEEDS_AT


@pytest.fixture
def lite(tmp_path):
    with sqlite_site(tmp_path / "retries.sqlite3") as site:
        yield site


def test_failing_jobs_are_retried_at_the_computed_delays_on_sqlite(lite):
    lite.qcluster()
    lite.scheduler("it:retries")
    seed_failing(lite, "r", 3)
    wait_until_finished(lite, total(3))
    check_retries(lite, "r", 3)


@pytest.fixture
def pg(tmp_path):
    require_postgres()
    require_redis()
    name = f"sched_retries_it_{os.getpid()}"
    with postgres_redis_site(name, redis_db=13, SCHEDULER_TEST_Q_WORKERS="2") as site:
        yield site


def test_failing_jobs_are_retried_at_the_computed_delays_on_postgres(pg):
    pg.qcluster()
    pg.scheduler("it:retries")
    seed_failing(pg, "r", 3)
    wait_until_finished(pg, total(3))
    check_retries(pg, "r", 3)


RETRIED = 3  # attempts of every fire of the interval jobs below


def test_retried_fires_are_exactly_once_with_two_schedulers_one_killed_on_postgres(pg):
    """The jittered interval load of ``test_processes`` with a handler that always fails, each fire
    tried ``RETRIED`` times 1 s apart, while a scheduler is killed halfway: intervals, jitter and
    retries in one load."""
    pg.qcluster()
    victim = pg.scheduler("it:victim")
    pg.scheduler("it:survivor")
    anchor = pg.django(
        f"""
        import json
        from datetime import timedelta
        from django.utils import timezone
        from django_scheduler_api import services
        anchor = timezone.now().replace(microsecond=0) + timedelta(seconds=3)
        for i in range({JOBS}):
            services.save_job(f"again.{{i}}", {{"handler": "tests.fail", "interval": {EVERY},
                              "interval_anchor": anchor, "repeat_count": {FIRES - 1},
                              "retry_max_attempts": {RETRIED}, "retry_initial_delay": 1,
                              "retry_backoff_coefficient": 1, "jitter": 1}})
        print(json.dumps(round(anchor.timestamp())))
        """
    )
    wait_for(lambda: time.time() >= anchor + EVERY * FIRES / 2, timeout=60, interval=0.1)
    victim.signal(signal.SIGKILL)
    wait_until_finished(pg, JOBS * FIRES * RETRIED)
    chains = attempts(pg, "again")
    fires = {(job, round(chain[0][3] * 1000)) for (job, _), chain in chains.items()}
    want = {(f"again.{i}", ms) for i in range(JOBS) for ms in planned(f"again.{i}", anchor, 1)}
    assert fires == want  # every fire once (its first attempt)
    counts = Counter((job, row[0]) for (job, _), chain in chains.items() for row in chain)
    assert len(chains) == JOBS * FIRES
    assert max(Counter(job for job, _ in chains).values()) == FIRES
    for chain in chains.values():
        assert [row[0] for row in chain] == list(range(1, RETRIED + 1))  # each attempt once
        assert {row[2] for row in chain} == {"failed"}
    assert sum(counts.values()) == JOBS * FIRES * RETRIED
