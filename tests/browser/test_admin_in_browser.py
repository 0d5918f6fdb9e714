"""The admin in a real browser: log in, create a job, pause it, trigger it, and watch a real django-q2
worker run it to success."""

from __future__ import annotations

import pytest

from django_scheduler_api.models import Execution, Job
from tests.browser.conftest import log_in
from tests.support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]

JOB_ID = "browser.hello"


def run_action(tab, job_id: str, action: str) -> str:
    """Tick the job on the changelist, run ``action``, return the message the admin shows."""
    tab.goto("/admin/django_scheduler_api/job/")
    tab.check(f'input[name="_selected_action"][value="{job_id}"]')
    tab.select_option('select[name="action"]', action)
    tab.click('button[name="index"]')
    return tab.locator("ul.messagelist").inner_text()


def create_job(tab) -> None:
    tab.goto("/admin/django_scheduler_api/job/add/")
    tab.fill("#id_id", JOB_ID)
    tab.fill("#id_description", "Says hello from the browser test")
    tab.select_option("#id_handler", "tests.echo")
    tab.fill("#id_cron_expression", "0 0 12 ? * MON-FRI")
    tab.fill("#id_data", '{"greeting": "hello"}')
    tab.click('input[name="_save"]')
    tab.wait_for_url("**/admin/django_scheduler_api/job/")


def test_create_pause_and_trigger_a_job_from_the_admin(page, admin_user, qcluster, screenshot):
    log_in(page, admin_user)

    # A refused cron expression shows the engine's message next to the field.
    page.goto("/admin/django_scheduler_api/job/add/")
    page.fill("#id_id", JOB_ID)
    page.select_option("#id_handler", "tests.echo")
    page.fill("#id_cron_expression", "0 0 25 * * ?")
    page.click('input[name="_save"]')
    assert "hours: 25 is out of range 0-23" in page.locator(".field-cron_expression .errorlist").inner_text()
    screenshot(page, "1-cron-refused")

    create_job(page)
    row = page.locator("#result_list tbody tr", has_text=JOB_ID)
    assert "At 12:00 PM, Monday through Friday" in row.inner_text()
    assert row.locator("td.field-group").inner_text() == "browser"  # derived from the id
    screenshot(page, "2-changelist")

    page.click(f"#result_list a:text-is('{JOB_ID}')")
    page.wait_for_url(f"**/job/{JOB_ID}/change/")
    fires = page.locator("ol.scheduler-fires li")
    assert fires.count() == 5 and "12:00:00 UTC" in fires.first.inner_text()
    screenshot(page, "3-change-form")

    assert f"Paused 1 job(s): {JOB_ID}." in run_action(page, JOB_ID, "pause_selected")
    assert "Paused" in page.locator("#result_list tbody tr", has_text=JOB_ID).inner_text()
    assert Job.objects.get(pk=JOB_ID).state == Job.State.PAUSED

    message = run_action(page, JOB_ID, "trigger_selected")
    assert "Triggered 1 job(s); executions:" in message
    screenshot(page, "4-triggered")

    # The message links to the execution; a real worker runs it while the page is reloaded.
    page.click(f"ul.messagelist a:has-text('{JOB_ID} (')")
    page.wait_for_url("**/execution/*/change/")
    status = page.locator(".field-status_display .readonly")
    wait_for(lambda: page.reload() and status.inner_text() == "succeeded", timeout=60, interval=0.5)
    result = page.locator(".field-result_pretty pre").inner_text()
    assert '"greeting": "hello"' in result and '"trigger": "manual"' in result
    screenshot(page, "5-execution-succeeded")

    execution = Execution.objects.get(job_id=JOB_ID)
    assert execution.status == Execution.Status.SUCCEEDED and execution.trigger == "manual"

    # Back on the job: its recent executions list the run.
    page.click(f".field-job_link a:text-is('{JOB_ID}')")
    page.wait_for_url(f"**/job/{JOB_ID}/change/")
    assert "succeeded" in page.locator("table.scheduler-executions").inner_text()
    screenshot(page, "6-job-with-execution")
