"""A plain install, without the ``redis`` package, runs a job end to end with django-q2's ORM broker.

``redis`` is an extra (``django-scheduler-api[redis]``); nothing may import it unless the Redis broker
is configured. The child processes here cannot import it at all: a ``sitecustomize`` on their path
puts ``None`` in ``sys.modules["redis"]``, so any ``import redis`` raises ImportError, as in a
virtualenv where it was never installed.
"""

from __future__ import annotations

import os

import pytest

from tests.engine.sites import sqlite_site
from tests.support import ROOT, wait_for

# Processes on databases of their own (tests/engine/sites.py), whatever the suite runs on.
pytestmark = [pytest.mark.integration, pytest.mark.any_db]

WITHOUT_REDIS = 'import sys\nsys.modules["redis"] = None  # any "import redis" raises ImportError\n'


@pytest.fixture
def plain(tmp_path):
    shim = tmp_path / "without_redis"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(WITHOUT_REDIS)
    with sqlite_site(tmp_path / "plain.sqlite3", PYTHONPATH=os.pathsep.join([str(shim), str(ROOT)])) as site:
        yield site


def test_without_redis_a_scheduler_and_a_qcluster_run_a_job(plain):
    assert (
        plain.django(
            """
        import importlib, json
        try:
            importlib.import_module("redis")
            print(json.dumps("importable"))
        except ImportError:
            print(json.dumps("missing"))
        """
        )
        == "missing"
    )
    cluster = plain.qcluster()
    scheduler = plain.scheduler("it:plain")
    start = plain.add_jobs("plain", 1, 2)
    wait_for(lambda: plain.all_finished(2), timeout=90, interval=0.5)
    fires = plain.fires()
    assert [(job, second, status) for job, second, status, _ in fires] == [
        ("plain.00000", start, "succeeded"),
        ("plain.00000", start + 1, "succeeded"),
    ]
    assert "redis" not in (cluster.output + scheduler.output).lower()
