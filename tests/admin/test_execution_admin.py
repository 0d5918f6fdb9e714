"""The execution admin: read-only history with readable results, errors and tracebacks."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_scheduler_api import services
from django_scheduler_api.models import Execution
from tests.admin.conftest import make_execution

CHANGELIST = reverse("admin:django_scheduler_api_execution_changelist")


def change_url(execution: Execution) -> str:
    return reverse("admin:django_scheduler_api_execution_change", args=[execution.pk])


def listed(response) -> list[Execution]:
    return list(response.context["cl"].result_list)


def test_changelist_links_jobs_and_marks_deleted_ones(admin_client, jobs):
    cleanup_run = make_execution(jobs["cleanup"], Execution.Status.QUEUED)
    services.delete_job("cleanup")
    response = admin_client.get(CHANGELIST)
    html = response.content.decode()
    assert len(listed(response)) == 3
    assert reverse("admin:django_scheduler_api_job_change", args=["reports.daily"]) in html
    assert "cleanup <small>(deleted)</small>" in html
    cleanup_run.refresh_from_db()
    assert cleanup_run.status == Execution.Status.CANCELLED


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ({"status__exact": "failed"}, 1),
        ({"status__exact": "succeeded"}, 1),
        ({"trigger__exact": "schedule"}, 2),
        ({"trigger__exact": "manual"}, 0),
        ({"job_id": "reports.daily"}, 2),
        ({"job_id": "reports.weekly"}, 0),
        ({"q": "boom"}, 1),
    ],
)
def test_filters(admin_client, jobs, query, count):
    response = admin_client.get(CHANGELIST, query)
    assert response.status_code == 200
    assert len(listed(response)) == count


def test_job_filter_lists_jobs_with_history(admin_client, jobs):
    html = admin_client.get(CHANGELIST).content.decode()
    assert "?job_id=reports.daily" in html


def test_changelist_query_count_does_not_grow(admin_client, jobs, django_assert_max_num_queries):
    for n in range(40):
        make_execution(jobs["weekly"], Execution.Status.SUCCEEDED, minutes_ago=n + 20)
    with django_assert_max_num_queries(12):
        response = admin_client.get(CHANGELIST)
    assert len(listed(response)) == 42


def test_detail_shows_result_error_and_traceback_preformatted(admin_client, jobs):
    failed = make_execution(
        jobs["daily"],
        Execution.Status.FAILED,
        error="RuntimeError: <b>boom</b>",
        traceback='Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: boom',
        data={"to": ["a", "b"]},
    )
    html = admin_client.get(change_url(failed)).content.decode()
    assert '<pre class="scheduler-pre">Traceback (most recent call last):\n  File &quot;x.py&quot;' in html
    assert '<pre class="scheduler-pre">RuntimeError: &lt;b&gt;boom&lt;/b&gt;</pre>' in html
    assert "&quot;to&quot;: [\n    &quot;a&quot;" in html
    assert reverse("admin:django_scheduler_api_job_change", args=["reports.daily"]) in html
    succeeded = Execution.objects.get(job_id="reports.daily", status=Execution.Status.SUCCEEDED)
    html = admin_client.get(change_url(succeeded)).content.decode()
    assert "&quot;sent&quot;: 3" in html


def test_read_only_no_add_change_or_delete(admin_client, jobs):
    execution = Execution.objects.filter(job_id="reports.daily").first()
    assert admin_client.get(reverse("admin:django_scheduler_api_execution_add")).status_code == 403
    detail = admin_client.get(change_url(execution))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert admin_client.post(change_url(execution), {"status": "succeeded"}).status_code == 403
    delete = reverse("admin:django_scheduler_api_execution_delete", args=[execution.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Execution.objects.filter(pk=execution.pk).exists()
    html = admin_client.get(CHANGELIST).content.decode()
    assert "delete_selected" not in html
