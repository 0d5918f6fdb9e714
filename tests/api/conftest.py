"""Fixtures of the API tests: a client, jobs, and a snapshot to prove a refusal changed nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from django_scheduler_api.models import Calendar, Execution, Job

BASE = "/scheduler"


@pytest.fixture
def api() -> APIClient:
    """A DRF test client; its requests come from 127.0.0.1 and send JSON."""
    return APIClient()


def snapshot() -> tuple[list[dict[str, Any]], ...]:
    """Every job, execution and calendar row, to compare before and after a refused request."""
    jobs = list(Job.objects.order_by("id").values())
    executions = list(Execution.objects.order_by("id").values())
    return jobs, executions, list(Calendar.objects.order_by("id").values())


@pytest.fixture
def unchanged(db) -> Callable[[], None]:
    """Call ``unchanged.check()`` after a request: the database must be as it was before."""

    class Guard:
        def __init__(self) -> None:
            self.before = snapshot()

        def check(self) -> None:
            assert snapshot() == self.before

    return Guard
