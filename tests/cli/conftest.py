"""The CLI tests compare with the API: its client and its refusal guard."""

from tests.api.conftest import api, unchanged  # noqa: F401  (fixtures)
