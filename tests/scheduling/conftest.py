"""The scheduling tests use the API tests' client and refusal guard, and the suite's job factory; the
process tests (``test_*_processes.py``) a site of their own (tests/engine/sites.py)."""

import os

import pytest

from tests import factories
from tests.api.conftest import api, unchanged  # noqa: F401  (fixtures)
from tests.engine.sites import postgres_redis_site, sqlite_site
from tests.support import require_postgres, require_redis


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
