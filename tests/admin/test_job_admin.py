"""The job admin: changelist, filters, search, actions through ``services``, and the change form's
validation, which must refuse what the REST API refuses with the same words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from django_scheduler_api.models import Execution, Job
from tests.admin.conftest import form_data, make_execution, make_job
from tests.support import run_tasks

CHANGELIST = reverse("admin:django_scheduler_api_job_changelist")
ADD = reverse("admin:django_scheduler_api_job_add")


def change_url(job_id: str) -> str:
    return reverse("admin:django_scheduler_api_job_change", args=[job_id])


def listed_ids(response) -> list[str]:
    return [job.id for job in response.context["cl"].result_list]


def run_action(client, action: str, ids: list[str]):
    return client.post(CHANGELIST, {"action": action, "_selected_action": ids, "index": 0}, follow=True)


# -- changelist -------------------------------------------------------------------------------


def test_changelist_shows_schedule_description_next_fire_and_last_status(admin_client, jobs):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert listed_ids(response) == ["cleanup", "reports.daily", "reports.weekly"]
    assert "0 15 10 ? * 2-6" not in html  # fixture crons only
    assert "<code>0 0 12 * * ?</code>" in html
    assert "At 12:00 PM" in html
    # The last execution of reports.daily succeeded (the failure came before it), linked to it.
    last = Execution.objects.filter(job_id="reports.daily").order_by("-scheduled_fire_time").first()
    assert reverse("admin:django_scheduler_api_execution_change", args=[last.pk]) in html
    assert 'scheduler-status-succeeded">succeeded<' in html
    assert "django_scheduler_api/admin.css" in html


def test_changelist_query_count_does_not_grow_with_jobs(admin_client, jobs, django_assert_max_num_queries):
    for n in range(30):
        job = make_job(f"bulk.job{n:02d}")
        make_execution(job, Execution.Status.SUCCEEDED, minutes_ago=n)
        make_execution(job, Execution.Status.FAILED, minutes_ago=n + 1)
    with django_assert_max_num_queries(12):
        response = admin_client.get(CHANGELIST)
    assert len(listed_ids(response)) == 33


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"state__exact": "paused"}, ["cleanup"]),
        ({"state__exact": "planned"}, ["reports.daily", "reports.weekly"]),
        ({"group": "reports"}, ["reports.daily", "reports.weekly"]),
        ({"handler": "tests.sleep"}, ["reports.weekly"]),
        ({"q": "weekly"}, ["reports.weekly"]),
        ({"q": "daily report"}, ["reports.daily"]),
        ({"q": "old files"}, ["cleanup"]),
    ],
)
def test_filters_and_search(admin_client, jobs, query, expected):
    response = admin_client.get(CHANGELIST, query)
    assert response.status_code == 200
    assert listed_ids(response) == expected


def test_filter_sidebar_offers_states_groups_and_handlers(admin_client, jobs):
    html = admin_client.get(CHANGELIST).content.decode()
    for link in ("?state__exact=paused", "?group=reports", "?handler=tests.sleep"):
        assert link in html


def test_changelist_counts_once_and_reads_no_distinct_column(admin_client, jobs):
    """Issue 16: with a million jobs, each count and each ``SELECT DISTINCT`` is a pass over an
    index. A filtered list counts its matches only, and the sidebar's groups and handlers are found
    value by value (services.job_values)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(CHANGELIST, {"state__exact": "planned"})
    job_queries = [
        q["sql"].upper() for q in captured.captured_queries if "SCHEDULER_API_JOB" in q["sql"].upper()
    ]
    assert sum("COUNT(" in sql for sql in job_queries) == 1
    assert not any("DISTINCT" in sql for sql in job_queries)
    assert listed_ids(response) == ["reports.daily", "reports.weekly"]
    html = response.content.decode()
    assert "2 results" in html and "3 total" not in html


def test_the_group_filter_lists_each_group_once_in_order_up_to_the_limit(admin_client, jobs, monkeypatch):
    from django_scheduler_api.admin import jobs as job_admin

    make_job("z.one", group="zeta")
    make_job("z.two", group="zeta")
    make_job("a.one", group="alpha")
    choices = admin_client.get(CHANGELIST).context["cl"].filter_specs[1].lookup_choices
    assert choices == sorted(set(Job.objects.values_list("group", flat=True)))
    assert choices.count("zeta") == 1
    monkeypatch.setattr(job_admin, "FILTER_CHOICES", 1)
    assert admin_client.get(CHANGELIST).context["cl"].filter_specs[1].lookup_choices == ["alpha"]


# -- actions ----------------------------------------------------------------------------------


def test_pause_action_pauses_and_keeps_next_fire_time(admin_client, jobs):
    before = Job.objects.get(pk="reports.daily").next_fire_time
    response = run_action(admin_client, "pause_selected", ["reports.daily", "reports.weekly"])
    assert "Paused 2 job(s): reports.daily, reports.weekly." in response.content.decode()
    daily = Job.objects.get(pk="reports.daily")
    assert daily.state == Job.State.PAUSED
    assert daily.next_fire_time == before
    assert Job.objects.get(pk="reports.weekly").state == Job.State.PAUSED


def test_actions_are_recorded_in_the_job_history(admin_client, jobs):
    from django.contrib.admin.models import LogEntry

    run_action(admin_client, "pause_selected", ["reports.daily"])
    run_action(admin_client, "trigger_selected", ["reports.daily"])
    messages = list(
        LogEntry.objects.filter(object_id="reports.daily").values_list("change_message", flat=True)
    )
    assert sorted(messages) == ["Paused.", "Triggered now."]
    history = admin_client.get(reverse("admin:django_scheduler_api_job_history", args=["reports.daily"]))
    assert "Triggered now." in history.content.decode()


def test_resume_action_plans_the_job_again(admin_client, jobs):
    response = run_action(admin_client, "resume_selected", ["cleanup"])
    assert "Resumed 1 job(s): cleanup." in response.content.decode()
    assert Job.objects.get(pk="cleanup").state == Job.State.PLANNED


def test_trigger_action_creates_a_manual_execution_per_job_even_when_paused(admin_client, jobs):
    response = run_action(admin_client, "trigger_selected", ["cleanup", "reports.weekly"])
    html = response.content.decode()
    assert "Triggered 2 job(s); executions:" in html
    for job_id in ("cleanup", "reports.weekly"):
        execution = Execution.objects.get(job_id=job_id, trigger=Execution.Trigger.MANUAL)
        assert reverse("admin:django_scheduler_api_execution_change", args=[execution.pk]) in html
        assert execution.data == Job.objects.get(pk=job_id).data


def test_trigger_action_enqueues_after_commit(admin_client, jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run_action(admin_client, "trigger_selected", ["reports.daily"])
    assert callbacks, "the execution must be sent to the workers once the transaction commits"
    assert run_tasks() == 1  # what a worker does with the task sent
    execution = Execution.objects.get(job_id="reports.daily", trigger=Execution.Trigger.MANUAL)
    assert execution.status == Execution.Status.SUCCEEDED


def test_bulk_delete_cancels_queued_executions_and_keeps_history(admin_client, jobs):
    queued = make_execution(jobs["daily"], Execution.Status.QUEUED, minutes_ago=-1)
    response = admin_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": ["reports.daily"], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert not Job.objects.filter(pk="reports.daily").exists()
    queued.refresh_from_db()
    assert queued.status == Execution.Status.CANCELLED
    assert Execution.objects.filter(job_id="reports.daily").count() == 3


def test_delete_view_cancels_queued_executions(admin_client, jobs):
    queued = make_execution(jobs["weekly"], Execution.Status.QUEUED, minutes_ago=-1)
    url = reverse("admin:django_scheduler_api_job_delete", args=["reports.weekly"])
    assert admin_client.get(url).status_code == 200
    admin_client.post(url, {"post": "yes"})
    assert not Job.objects.filter(pk="reports.weekly").exists()
    queued.refresh_from_db()
    assert queued.status == Execution.Status.CANCELLED


# -- the change form --------------------------------------------------------------------------


def test_add_form_offers_registered_handlers_and_the_default_zone(admin_client, db):
    html = admin_client.get(ADD).content.decode()
    assert '<option value="tests.echo">tests.echo — Return the data' in html
    assert 'name="timezone" value="UTC"' in html
    # Group and name start empty (derived from the id on save), not as the model's "default".
    assert 'name="group" value=' not in html and 'name="name" value=' not in html


def test_a_refused_add_form_shows_no_schedule_computed_from_invalid_values(admin_client, db):
    html = admin_client.post(ADD, form_data(cron_expression="0 0 25 * * ?")).content.decode()
    assert "Shown once the job is saved." in html
    assert "Once (no cron expression)" not in html


def test_add_creates_job_with_defaults_from_id_and_next_fire_time(admin_client, db):
    response = admin_client.post(ADD, form_data(data='{"recipients": 3}'))
    assert response.status_code == 302, response.context["adminform"].form.errors
    job = Job.objects.get(pk="reports.daily")
    assert (job.group, job.name) == ("reports", "daily")
    assert job.data == {"recipients": 3}
    assert job.next_fire_time is not None and job.next_fire_time > timezone.now()
    assert job.next_fire_time.weekday() < 5 and (job.next_fire_time.hour, job.next_fire_time.minute) == (
        10,
        15,
    )


def test_add_one_shot_job_without_cron_fires_at_once(admin_client, db):
    before = timezone.now()
    response = admin_client.post(ADD, form_data(id="once", cron_expression=""))
    assert response.status_code == 302
    job = Job.objects.get(pk="once")
    assert job.group == "default" and job.name == "once"
    assert before <= job.next_fire_time <= timezone.now()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"handler": "nobody.home"},
            "handler",
            "Unknown handler 'nobody.home'. Registered handlers: tests.context, tests.echo, tests.exit",
        ),
        ({"cron_expression": "0 0 25 * * ?"}, "cron_expression", None),
        ({"cron_expression": "* * * * * *"}, "cron_expression", None),
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone 'Mars/Olympus'."),
        (
            {
                "start_time_0": "2030-01-02",
                "start_time_1": "10:00:00",
                "end_time_0": "2030-01-01",
                "end_time_1": "10:00:00",
            },
            "end_time",
            "end_time must be after start_time.",
        ),
        ({"data": "[1, 2]"}, "data", "data must be a JSON object."),
        ({"data": "{not json"}, "data", "Enter a valid JSON."),
        ({"id": "bad id!"}, "id", "Use 1-200 characters: letters, digits and . _ - :"),
    ],
)
def test_add_form_refuses_what_the_api_refuses(admin_client, db, overrides, field, message):
    from django_scheduler_api.cron import CronError, CronExpression

    if message is None:  # the engine's own message for this expression
        with pytest.raises(CronError) as caught:
            CronExpression(overrides["cron_expression"])
        message = str(caught.value)
    response = admin_client.post(ADD, form_data(**overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors
    assert any(message in error for error in errors[field]), errors[field]
    assert not Job.objects.exists()


def test_change_page_shows_next_five_fires_description_and_recent_executions(admin_client, jobs):
    response = admin_client.get(change_url("reports.daily"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<li>20") >= 5 and 'class="scheduler-fires"' in html
    assert "At 12:00 PM" in html
    for execution in Execution.objects.filter(job_id="reports.daily"):
        assert reverse("admin:django_scheduler_api_execution_change", args=[execution.pk]) in html
    assert "RuntimeError: boom" in html
    assert reverse("admin:django_scheduler_api_execution_changelist") + "?job_id=reports.daily" in html
    # The id is the primary key: shown, not editable.
    assert 'name="id"' not in html


def test_fires_in_another_zone_show_local_time_too(admin_client, db):
    make_job("berlin", cron_expression="0 30 2 * * ?", timezone="Europe/Berlin")
    html = admin_client.get(change_url("berlin")).content.decode()
    assert "Europe/Berlin)" in html and ":30:00 UTC" in html


def test_changing_only_description_or_data_keeps_next_fire_time(admin_client, jobs):
    job = jobs["daily"]
    Job.objects.filter(pk=job.pk).update(next_fire_time=job.next_fire_time + timedelta(days=3))
    moved = Job.objects.get(pk=job.pk).next_fire_time
    fields = form_data(id=job.pk, cron_expression=job.cron_expression, description="new", data='{"a": 1}')
    response = admin_client.post(change_url(job.pk), fields)
    assert response.status_code == 302, response.context["adminform"].form.errors
    job.refresh_from_db()
    assert (job.description, job.data, job.next_fire_time) == ("new", {"a": 1}, moved)


@pytest.mark.parametrize(
    "overrides",
    [{"cron_expression": "0 0 6 * * ?"}, {"timezone": "Asia/Tokyo"}, {"state": "paused"}],
)
def test_changing_schedule_fields_recomputes_next_fire_time(admin_client, jobs, overrides):
    job = jobs["daily"]
    stale = timezone.now() + timedelta(days=300)
    Job.objects.filter(pk=job.pk).update(next_fire_time=stale)
    fields = form_data(id=job.pk, **{"cron_expression": job.cron_expression, **overrides})
    response = admin_client.post(change_url(job.pk), fields)
    assert response.status_code == 302, response.context["adminform"].form.errors
    job.refresh_from_db()
    assert job.next_fire_time < stale


def test_an_unregistered_current_handler_is_shown_and_refused_with_the_registry_message(admin_client, db):
    make_job("orphan", handler="gone.away")
    html = admin_client.get(change_url("orphan")).content.decode()
    assert '<option value="gone.away" selected>gone.away (not registered)</option>' in html
    response = admin_client.post(change_url("orphan"), form_data(id="orphan", handler="gone.away"))
    assert "Unknown handler &#x27;gone.away&#x27;" in response.content.decode()


def test_an_action_on_a_job_deleted_meanwhile_changes_nothing(admin_client, jobs, monkeypatch):
    """Between ticking and submitting, another user deleted a job: all or nothing, as in the API."""
    from django_scheduler_api.admin import jobs as job_admin

    monkeypatch.setattr(job_admin, "_ids", lambda queryset: ["reports.daily", "gone"])
    response = run_action(admin_client, "pause_selected", ["reports.daily"])
    assert "Unknown job ids: gone" in response.content.decode()
    assert Job.objects.get(pk="reports.daily").state == Job.State.PLANNED
