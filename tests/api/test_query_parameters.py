"""Misspelt query parameters (issue 11, item 3): a 400 naming them on every endpoint, never a
parameter silently ignored, and an ``ids`` that names nobody is not "all jobs"."""

from __future__ import annotations

import uuid

import pytest

from django_scheduler_api import services
from django_scheduler_api.models import Execution, Job
from tests.api.conftest import BASE

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(make_job):
    for job_id in ("a", "b"):
        make_job(job_id, cron_expression="0 0 12 * * ?")


@pytest.mark.parametrize("action", ["pause", "resume", "trigger"])
@pytest.mark.parametrize("query", ["id=a", "ids[]=a", "job=a", "ID=a", "Ids=a", "ids=a&idz=b"])
def test_a_misspelt_ids_acts_on_no_job(api, jobs, unchanged, action, query):
    guard = unchanged()
    response = api.post(f"{BASE}/{action}?{query}")
    assert response.status_code == 400
    assert "Unknown query parameter" in str(response.json())
    guard.check()


@pytest.mark.parametrize("action", ["pause", "resume", "trigger"])
@pytest.mark.parametrize("query", ["ids=", "ids=;;", "ids=%20", "ids=,%20;", "ids=&ids="])
def test_an_ids_that_names_no_id_is_400_not_all_jobs(api, jobs, unchanged, action, query):
    guard = unchanged()
    response = api.post(f"{BASE}/{action}?{query}")
    assert response.status_code == 400
    assert "ids" in response.json()
    guard.check()


def test_only_an_absent_ids_means_all_jobs(api, jobs):
    assert api.post(f"{BASE}/pause").json() == {"paused": ["a", "b"]}
    assert api.post(f"{BASE}/resume?format=json").json() == {"resumed": ["a", "b"]}


@pytest.fixture
def execution(make_job):
    make_job("a")
    (execution,) = services.trigger_jobs(["a"])
    return execution


def every_endpoint(execution_id: uuid.UUID) -> list[tuple[str, str]]:
    return [
        ("get", "/"),
        ("get", "/jobs"),
        ("get", "/jobs/a"),
        ("post", "/jobs/a"),
        ("patch", "/jobs/a"),
        ("delete", "/jobs/a"),
        ("get", "/jobs/a/executions"),
        ("get", "/executions"),
        ("get", f"/executions/{execution_id}"),
        ("get", "/handlers"),
        ("get", "/preview?cron_expression=0+0+12+*+*+%3F"),
        ("post", "/pause"),
        ("post", "/resume"),
        ("post", "/trigger"),
    ]


def test_every_endpoint_refuses_an_unknown_parameter(api, execution, unchanged):
    guard = unchanged()
    for method, path in every_endpoint(execution.id):
        joiner = "&" if "?" in path else "?"
        body = {"handler": "tests.echo"} if method in ("post", "patch") and "jobs" in path else None
        response = getattr(api, method)(f"{BASE}{path}{joiner}bogus=1", body, format="json")
        assert response.status_code == 400, (method, path)
        assert response.json() == {"bogus": [response.json()["bogus"][0]]}
    guard.check()


@pytest.mark.parametrize(
    ("path", "known"),
    [
        ("/jobs?state=planned&group=x&handler=y&skip=0&take=5", 200),
        ("/jobs/a/executions?status=queued&skip=0&take=5", 200),
        ("/executions?job=a&status=queued&skip=0&take=5", 200),
        ("/preview?cron_expression=0+0+12+*+*+%3F&timezone=UTC&count=2&after=2026-01-01T00:00:00Z", 200),
        ("/jobs/a?format=json", 200),
    ],
)
def test_the_parameters_each_endpoint_documents_still_pass(api, execution, path, known):
    assert api.get(f"{BASE}{path}").status_code == known


def test_a_refused_parameter_leaves_jobs_and_executions_alone(api, jobs):
    before = (Job.objects.filter(state="planned").count(), Execution.objects.count())
    assert api.post(f"{BASE}/trigger?job=a").status_code == 400
    assert api.post(f"{BASE}/pause?id=a").status_code == 400
    assert (Job.objects.filter(state="planned").count(), Execution.objects.count()) == before == (2, 0)
