"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest
from hypothesis import settings as hypothesis_settings

from tests import factories
from tests.support import IN_CI, start_qcluster

# CI runs must be repeatable: the same examples every run. Locally, new examples each run.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    hypothesis_settings.load_profile("ci")


@pytest.fixture
def qcluster(transactional_db, monkeypatch):
    """A real ``qcluster`` process working on the test database; tasks go to it, not in-process.

    Uses ``transactional_db`` so that rows the test writes are committed and visible to the workers.
    """
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    cluster = start_qcluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def make_job(db):
    """``factories.make_job`` for tests that take it as a fixture (it needs the database)."""
    return factories.make_job
