"""The scheduling tests use the API tests' client, job maker and refusal guard."""

from tests.api.conftest import api, make_job, unchanged  # noqa: F401  (fixtures)
