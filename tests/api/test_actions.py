"""pause, resume and trigger: ids parsing, all or nothing, manual executions on django-q2."""

from __future__ import annotations

import pytest

from django_scheduler_api.models import Execution, Job
from tests.api.conftest import BASE
from tests.support import run_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(make_job):
    make_job("a", data={"keep": 1, "over": "job"})
    make_job("b")
    make_job("c", state="paused")


def states():
    return dict(Job.objects.values_list("id", "state"))


def test_pause_some_ids_trimmed_deduplicated_with_both_separators(api, jobs):
    response = api.post(f"{BASE}/pause?ids= a ;b,a, ")
    assert response.status_code == 200
    assert response.json() == {"paused": ["a", "b"]}
    assert states() == {"a": "paused", "b": "paused", "c": "paused"}


def test_pause_without_ids_pauses_all_and_resume_resumes_all(api, jobs):
    assert api.post(f"{BASE}/pause").json() == {"paused": ["a", "b", "c"]}
    assert set(states().values()) == {"paused"}
    assert api.post(f"{BASE}/resume/").json() == {"resumed": ["a", "b", "c"]}
    assert set(states().values()) == {"planned"}


def test_pause_keeps_the_next_fire_time(api, make_job):
    job = make_job("x", cron_expression="0 0 12 * * ?")
    api.post(f"{BASE}/pause?ids=x")
    assert Job.objects.get().next_fire_time == job.next_fire_time


@pytest.mark.parametrize("action", ["pause", "resume", "trigger"])
def test_an_unknown_id_is_404_listing_it_and_nothing_changes(api, jobs, unchanged, action):
    guard = unchanged()
    response = api.post(f"{BASE}/{action}?ids=a,nope,b,zz")
    assert response.status_code == 404
    assert response.json()["unknown_ids"] == ["nope", "zz"]
    assert "nope" in response.json()["detail"]
    guard.check()


def test_trigger_creates_manual_executions_with_merged_data_and_runs_them(
    api, jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{BASE}/trigger?ids=a,c", {"over": "body", "new": 2}, format="json")
    assert response.status_code == 200
    triggered = response.json()["triggered"]
    assert [t["job"] for t in triggered] == ["a", "c"]  # c is paused: explicit ids fire it anyway
    for item in triggered:
        assert item["url"] == f"http://testserver/scheduler/executions/{item['execution']}"
    execution = Execution.objects.get(job_id="a")
    assert execution.trigger == "manual"
    assert execution.data == {"keep": 1, "over": "body", "new": 2}
    assert run_tasks() == 2  # sent after the commit: what the workers do with them
    detail = api.get(triggered[0]["url"]).json()
    assert detail["status"] == "succeeded"
    assert detail["result"]["data"] == {"keep": 1, "over": "body", "new": 2}


def test_trigger_without_ids_fires_every_planned_job(api, jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{BASE}/trigger")
    assert [t["job"] for t in response.json()["triggered"]] == ["a", "b"]


def test_trigger_enqueues_only_after_the_commit(api, jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        api.post(f"{BASE}/trigger?ids=b")
    assert len(callbacks) == 1
    assert Execution.objects.get().status == "queued"


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        ("[1]", "application/json", 400),
        ('"x"', "application/json", 400),
        ("{bad", "application/json", 400),
        ("a=1", "application/x-www-form-urlencoded", 415),
    ],
)
def test_trigger_refuses_a_body_that_is_not_a_json_object(
    api, jobs, unchanged, content, content_type, status
):
    guard = unchanged()
    response = api.generic("POST", f"{BASE}/trigger?ids=a", content, content_type=content_type)
    assert response.status_code == status
    assert "detail" in response.json()
    guard.check()


@pytest.mark.parametrize("action", ["pause", "resume", "trigger"])
def test_get_is_405_json(api, action):
    response = api.get(f"{BASE}/{action}")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "GET" not allowed.'}
