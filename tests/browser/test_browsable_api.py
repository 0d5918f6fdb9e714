"""The REST API in a real browser: DRF's browsable pages render every endpoint with its description,
and a job can be posted through the page's JSON form."""

from __future__ import annotations

import json

import pytest

from django_scheduler_api.models import Execution, Job
from tests.admin.conftest import make_execution, make_job

pytestmark = pytest.mark.browser

JOB_ID = "browser.api"

# Every GET endpoint and a phrase of the description its browsable page must show.
PAGES = [
    ("/scheduler/", "Whether a scheduler process is running"),
    ("/scheduler/jobs", "Jobs ordered by id"),
    ("/scheduler/jobs/reports.daily", "Add the job, or replace it whole"),
    ("/scheduler/jobs/reports.daily/executions", "The job's executions"),
    ("/scheduler/executions", "Executions of all jobs"),
    ("/scheduler/handlers", "The registered handlers"),
    ("/scheduler/preview?cron_expression=0+15+10+%3F+*+2-6", "The next `count` fire times"),
    ("/scheduler/pause", "Pause the jobs"),
    ("/scheduler/resume", "Resume the jobs"),
    ("/scheduler/trigger", "Run the jobs"),
]


def readable(text: str) -> str:
    """The words of a description, whether its Markdown is rendered (``markdown`` installed) or not."""
    return text.replace("`", "").replace("*", "")


@pytest.fixture
def jobs(transactional_db):
    daily = make_job("reports.daily", description="Mail the daily report")
    make_execution(daily, Execution.Status.SUCCEEDED, result={"sent": 3})
    make_job("cleanup", state=Job.State.PAUSED)


def test_every_endpoint_renders_with_its_description(page, jobs, screenshot):
    for path, phrase in PAGES:
        response = page.goto(path)
        assert response.headers["content-type"].startswith("text/html"), path
        description = readable(page.locator(".content-main > .pull-left").first.inner_text())
        assert readable(phrase) in description, (path, description)
        assert "Django REST framework" in page.title(), path
    page.goto("/scheduler/jobs")
    body = json.loads(page.locator(".response-info pre").inner_text().split("\n\n", 1)[1])
    assert [job["id"] for job in body] == ["cleanup", "reports.daily"]
    screenshot(page, "1-job-list")
    page.goto("/scheduler/")
    screenshot(page, "2-status")


def test_post_a_job_through_the_json_form(page, jobs, screenshot):
    page.goto(f"/scheduler/jobs/{JOB_ID}")
    assert "404" in page.locator(".response-info").inner_text()
    job = {
        "handler": "tests.echo",
        "cron_expression": "0 15 10 ? * 2-6",
        "timezone": "Europe/Berlin",
        "data": {"from": "browser"},
    }
    form = page.locator("#post-generic-content-form")
    assert form.locator("select[name=_content_type]").input_value() == "application/json"
    form.locator("textarea[name=_content]").fill(json.dumps(job, indent=2))
    screenshot(page, "1-json-form")
    form.locator("button", has_text="POST").click()
    page.wait_for_selector(".response-info:has-text('HTTP 200 OK')")
    answer = json.loads(page.locator(".response-info pre").inner_text().split("\n\n", 1)[1])
    assert answer["id"] == JOB_ID and answer["cron_description"] == "At 10:15 AM, Monday through Friday"
    screenshot(page, "2-posted")
    saved = Job.objects.get(pk=JOB_ID)
    assert (saved.group, saved.name, saved.timezone, saved.data) == (
        "browser",
        "api",
        "Europe/Berlin",
        {"from": "browser"},
    )

    # A refused body answers 400 with the engine's message, rendered on the same page.
    form = page.locator("#post-generic-content-form")
    form.locator("textarea[name=_content]").fill(json.dumps({**job, "cron_expression": "0 0 25 * * ?"}))
    form.locator("button", has_text="POST").click()
    page.wait_for_selector(".response-info:has-text('HTTP 400 Bad Request')")
    assert "hours: 25 is out of range 0-23" in page.locator(".response-info pre").inner_text()
    screenshot(page, "3-refused")
