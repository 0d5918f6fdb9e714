"""Swagger UI in a real browser: the pre-filled examples work as they stand, and every answer is one
the schema documents (Swagger UI labels any other "Undocumented")."""

from __future__ import annotations

import json

import pytest

from django_scheduler_api.models import Job

pytestmark = pytest.mark.browser


def run_operation(page, operation_id: str, tag: str) -> tuple[str, str]:
    """Expand an operation, press "Try it out" and "Execute" without touching the pre-filled form;
    return the live answer's status cell and body."""
    block = page.locator(f"#operations-{tag}-{operation_id}")
    block.locator(".opblock-summary").first.click()
    block.locator(".try-out__btn").click()
    block.locator(".execute").click()
    answer = block.locator(".live-responses-table .response").first
    answer.wait_for()
    return answer.locator(".response-col_status").inner_text(), answer.locator("pre").first.inner_text()


def test_the_prefilled_examples_succeed_and_every_answer_is_documented(page, transactional_db, screenshot):
    page.goto("/scheduler/docs")
    page.locator("#operations-jobs-jobs_create").wait_for()

    status, body = run_operation(page, "jobs_create", "jobs")
    assert status.strip() == "200", body
    assert json.loads(body)["id"] == "reports.daily"
    assert Job.objects.filter(pk="reports.daily").exists()

    for operation_id, tag in [
        ("jobs_partial_update", "jobs"),
        ("pause_create", "pause"),
        ("resume_create", "resume"),
        ("trigger_create", "trigger"),
        ("status_retrieve", "status"),
        ("jobs_destroy", "jobs"),
    ]:
        status, body = run_operation(page, operation_id, tag)
        assert status.strip() == "200", (operation_id, status, body)
    screenshot(page, "swagger-ui")
    assert "Undocumented" not in page.locator("body").inner_text()
    assert not Job.objects.filter(pk="reports.daily").exists()
