"""The scheduling tests use the API tests' client and refusal guard, and the suite's job factory; the
process tests (``test_*_processes.py``) a site of their own (tests/engine/sites.py)."""

import os

import pytest

from tests import factories
from tests.api.conftest import api, unchanged  # noqa: F401  (fixtures)
from tests.engine.sites import Site, postgres_redis_site, sqlite_site
from tests.support import require_postgres, require_redis, wait_for


@pytest.fixture
def make_job(db):
    """``factories.make_job``, with the database the test needs."""
    return factories.make_job


def _workers(request: pytest.FixtureRequest) -> str:
    """django-q2 workers of the site's ``qcluster``: the test module's ``Q_WORKERS``, else 2."""
    return str(getattr(request.module, "Q_WORKERS", 2))


@pytest.fixture
def lite(tmp_path, request):
    """A SQLite site with django-q2's ORM broker (one scheduler is what SQLite needs)."""
    with sqlite_site(tmp_path / "scheduling.sqlite3", SCHEDULER_TEST_Q_WORKERS=_workers(request)) as site:
        yield site


@pytest.fixture
def pg(request):
    """A PostgreSQL site with Redis, named after the test module and this process (suites running
    side by side never share one)."""
    require_postgres()
    require_redis()
    module = request.module.__name__.rsplit(".", 1)[-1]
    name = f"sched_{module}_{os.getpid()}"
    with postgres_redis_site(name, redis_db=13, SCHEDULER_TEST_Q_WORKERS=_workers(request)) as site:
        yield site


def wait_until_finished(site: Site, total: int) -> None:
    """Poll until ``site`` has recorded ``total`` executions and every one has finished.

    Every process test waits for this before it reads what was recorded; each wrote the same
    ``wait_for`` with a deadline of its own (90 to 180 s). The deadline is only a safety net against
    a hang, not a speed the machine must reach, so one generous value serves them all.
    """
    wait_for(lambda: site.all_finished(total), timeout=180, interval=0.5)
