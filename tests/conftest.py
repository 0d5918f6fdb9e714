"""Fixtures shared by the whole suite."""

from __future__ import annotations

import time

import pytest
from hypothesis import settings as hypothesis_settings

from tests import factories
from tests.support import IN_CI, start_qcluster

# CI runs must be repeatable: the same examples every run. Locally, new examples each run.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    hypothesis_settings.load_profile("ci")

# The fixtures that give a test the database (directly or through another fixture).
DATABASE_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback"}
)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need the test database (``database``) or the real Quartz in a JVM
    (``quartz``), so that ``-m "not database and not quartz"`` selects the in-process unit tests
    (``make mutate`` runs those)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & DATABASE_FIXTURES or item.get_closest_marker("django_db"):
            item.add_marker(pytest.mark.database)
        if "quartz" in fixtures:
            item.add_marker(pytest.mark.quartz)


@pytest.fixture
def qcluster(transactional_db):
    """A real ``qcluster`` process working on the test database; tasks go to it, not in-process.

    Uses ``transactional_db`` so that rows the test writes are committed and visible to the workers.
    """
    cluster = start_qcluster()
    yield cluster
    cluster.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Captured output as text pytest-xdist can send: a handler's message may hold a lone surrogate
    (tests of bad outcomes raise one), which UTF-8 cannot encode; it is shown escaped instead."""
    report = yield
    report.sections = [
        (name, text.encode("utf-8", "backslashreplace").decode("utf-8")) for name, text in report.sections
    ]
    return report


@pytest.fixture
def sync_mode(monkeypatch):
    """django-q2's ``sync`` option on: each task runs in the process that sends it, inline.

    For the tests whose subject is that mode (a project may turn it on in development); every
    other test sends through the broker, as production does (tests/settings.py).
    """
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def make_job(db):
    """``factories.make_job`` for tests that take it as a fixture (it needs the database)."""
    return factories.make_job


@pytest.fixture
def machine_zone(monkeypatch):
    """``machine_zone("Asia/Kolkata")`` sets the process's local time zone (``TZ``) for the test, as
    on a server not set to UTC; Django's own (``TIME_ZONE``) is back afterwards."""

    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()
