"""Fixtures of the cron tests: the real Quartz, when Java and the Quartz jar are here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cron.quartz_oracle import INSTALL_HINT, QuartzOracle, find_tools
from tests.support import require


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The cron engine is pure code: its tests never use the suite's database (``any_db``)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.any_db)


@pytest.fixture(scope="session")
def quartz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuartzOracle]:
    """One Quartz JVM for the session; skipped without Java, a failure in CI (CI=true)."""
    tools = find_tools()
    require(tools is not None, INSTALL_HINT)
    assert tools is not None
    oracle = QuartzOracle(*tools, tmp_path_factory.mktemp("quartz-build"))
    yield oracle
    oracle.close()
