"""Executions: list, filters, detail; and a manual trigger run by a real qcluster worker."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from django_scheduler_api.models import Execution
from tests.api.conftest import BASE
from tests.support import wait_for

EXECUTION_KEYS = [
    "id", "url", "job", "job_url", "trigger", "attempt", "first_execution", "first_execution_url",
    "status", "scheduled_fire_time", "fire_time",
    "started_at", "finished_at", "duration_ms", "data", "result", "error",
]  # fmt: skip


def add_execution(job_id: str, status: str = "succeeded", minutes: int = 0) -> Execution:
    when = timezone.now() - timezone.timedelta(minutes=minutes)
    return Execution.objects.create(
        job_id=job_id, handler="tests.echo", trigger="schedule", status=status,
        scheduled_fire_time=when, fire_time=when,
    )  # fmt: skip


@pytest.fixture
def history(make_job):
    make_job("a")
    make_job("b")
    return [
        add_execution("a", "succeeded", 3),
        add_execution("a", "failed", 2),
        add_execution("b", "queued", 1),
    ]


@pytest.mark.django_db
def test_list_is_newest_first_with_the_spec_keys(api, history):
    response = api.get(f"{BASE}/executions")
    body = response.json()
    assert list(body[0]) == EXECUTION_KEYS
    assert [e["id"] for e in body] == [str(e.id) for e in reversed(history)]
    assert response["X-Total-Count"] == "3"
    assert body[0]["job_url"] == "http://testserver/scheduler/jobs/b"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "count"),
    [({"job": "a"}, 2), ({"status": "FAILED"}, 1), ({"job": "a", "status": "queued"}, 0), ({"job": "x"}, 0)],
)
def test_filters(api, history, query, count):
    assert len(api.get(f"{BASE}/executions", query).json()) == count


@pytest.mark.django_db
def test_a_jobs_executions(api, history):
    response = api.get(f"{BASE}/jobs/a/executions/", {"status": "succeeded"})
    assert [e["status"] for e in response.json()] == ["succeeded"]
    assert api.get(f"{BASE}/jobs/a/executions").json()[0]["job"] == "a"
    assert api.get(f"{BASE}/jobs/nope/executions").status_code == 404


@pytest.mark.django_db
def test_detail_shows_the_traceback_and_404s(api, history):
    body = api.get(f"{BASE}/executions/{history[0].id}").json()
    assert body["id"] == str(history[0].id) and "traceback" in body and body["handler"] == "tests.echo"
    response = api.get(f"{BASE}/executions/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "No execution" in response.json()["detail"]
    malformed = api.get(f"{BASE}/executions/not-a-uuid")  # cannot be an execution's id: a 400
    assert malformed.status_code == 400 and malformed.json() == {"id": ["Must be a valid UUID."]}


@pytest.mark.integration
def test_a_manual_trigger_runs_on_a_real_qcluster(api, qcluster, make_job):
    make_job("hello", data={"who": "job"})
    make_job("broken", handler="tests.fail")
    response = api.post(f"{BASE}/trigger?ids=hello,broken", {"who": "body"}, format="json")
    assert response.status_code == 200
    ok, bad = (item["url"] for item in response.json()["triggered"])

    def finished(url):
        body = api.get(url).json()
        return body if body["status"] in ("succeeded", "failed") else None

    done = wait_for(lambda: finished(ok))
    assert done["status"] == "succeeded"
    assert done["result"]["data"] == {"who": "body"}
    assert done["started_at"] <= done["finished_at"] and done["duration_ms"] is not None
    failed = wait_for(lambda: finished(bad))
    assert failed["status"] == "failed"
    assert "RuntimeError: this handler always fails" in failed["error"]
    assert "Traceback" in api.get(bad).json()["traceback"]
