"""The scheduling tests use the API tests' client and refusal guard, and the suite's job factory."""

import pytest

from tests import factories
from tests.api.conftest import api, unchanged  # noqa: F401  (fixtures)


@pytest.fixture
def make_job(db):
    """``factories.make_job``, with the database the test needs."""
    return factories.make_job
