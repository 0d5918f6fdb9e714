"""Fixtures of the cron tests: the real Quartz, when Java and the Quartz jar are here."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.cron.quartz_oracle import INSTALL_HINT, QuartzOracle, find_tools


@pytest.fixture(scope="session")
def quartz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuartzOracle]:
    """One Quartz JVM for the session; skipped without Java, a failure in CI (CI=true)."""
    tools = find_tools()
    if tools is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but Quartz is missing: {INSTALL_HINT}")
        pytest.skip(INSTALL_HINT)
    oracle = QuartzOracle(*tools, tmp_path_factory.mktemp("quartz-build"))
    yield oracle
    oracle.close()
