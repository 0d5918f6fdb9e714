"""Pause, resume and trigger: a body never widens the selection (issue 21, D2).

``POST /pause`` with the body ``{"ids": ["keep.one"]}`` paused every job: the ids belong in the
query, and a body was ignored, so "no ids" meant all. Pause and resume take no body (any key is a
400); a trigger body that names jobs without ``?ids=`` is a 400 (it would fire every planned job
with the ids merged into their data). Each refusal changes nothing.
"""

from __future__ import annotations

import pytest

from django_scheduler_api.models import Job
from tests.api.conftest import BASE
from tests.factories import make_job


@pytest.fixture
def two_jobs(db):
    make_job("keep.one", cron_expression="0 0 12 * * ?")
    make_job("keep.two", cron_expression="0 0 12 * * ?")


@pytest.mark.parametrize("action", ["pause", "resume"])
@pytest.mark.parametrize(
    "body", [{"ids": ["keep.one"]}, {"Ids": "keep.one"}, {"job_ids": ["keep.one"]}, {"anything": 1}]
)
def test_pause_and_resume_refuse_any_body_key(api, two_jobs, unchanged, action, body):
    if action == "resume":
        Job.objects.update(state=Job.State.PAUSED)
    guard = unchanged()
    for query in ("", "?ids=keep.one"):
        response = api.post(f"{BASE}/{action}{query}", body, format="json")
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        (key,) = response.json()
        assert key == next(iter(body)) and "query" in response.json()[key][0]
    guard.check()


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_pause_and_resume_take_no_body_or_an_empty_object(api, two_jobs, action):
    assert api.post(f"{BASE}/{action}?ids=keep.one").status_code == 200
    assert api.post(f"{BASE}/{action}?ids=keep.one", {}, format="json").status_code == 200


@pytest.mark.parametrize("key", ["ids", "IDs", "id", "job", "jobs", "jobIds", "job_id"])
def test_a_trigger_body_naming_jobs_without_ids_is_refused(api, two_jobs, unchanged, key):
    guard = unchanged()
    response = api.post(f"{BASE}/trigger", {key: ["keep.one"]}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [key]
    guard.check()


def test_with_ids_in_the_query_such_a_key_is_data(api, two_jobs):
    response = api.post(f"{BASE}/trigger?ids=keep.one", {"ids": [1, 2]}, format="json")
    assert response.status_code == 200
    (triggered,) = response.json()["triggered"]
    assert triggered["job"] == "keep.one"
    assert Job.objects.get(pk="keep.one").executions.get().data == {"ids": [1, 2]}


def test_other_trigger_data_still_goes_to_every_planned_job(api, two_jobs):
    response = api.post(f"{BASE}/trigger", {"reason": "re-run"}, format="json")
    assert sorted(t["job"] for t in response.json()["triggered"]) == ["keep.one", "keep.two"]
