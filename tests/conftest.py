"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest

from tests.support import start_qcluster


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
