"""``jobs/{id}``: add or replace, partial update, read, delete; the job's JSON; refused input."""

from __future__ import annotations

import json

import pytest

from django_scheduler_api.models import Execution, Job
from tests.api.conftest import BASE

pytestmark = pytest.mark.django_db

JOB_KEYS = [
    "id", "url", "group", "name", "state", "description", "handler", "cron_expression",
    "cron_description", "interval", "interval_anchor", "repeat_count", "timezone", "start_time",
    "end_time", "misfire_policy", "overlap_policy", "max_concurrent", "jitter", "timeout",
    "retry_max_attempts", "retry_initial_delay", "retry_backoff_coefficient", "retry_max_delay",
    "retry_on_lost",
    "data", "calendars", "next_fire_time", "previous_fire_time", "executions_url", "source", "created_at",
    "updated_at",
]  # fmt: skip


def post_job(api, job_id="reports.daily", **body):
    return api.post(f"{BASE}/jobs/{job_id}", body, format="json")


def test_post_creates_the_job_and_answers_it_as_the_spec_shows(api):
    response = post_job(api, handler="tests.echo", cron_expression="0 15 10 ? * 2-6")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == JOB_KEYS
    assert body["id"] == "reports.daily"
    assert body["url"] == "http://testserver/scheduler/jobs/reports.daily"
    assert body["executions_url"] == "http://testserver/scheduler/jobs/reports.daily/executions"
    assert (body["group"], body["name"], body["state"]) == ("reports", "daily", "planned")
    assert body["cron_description"] == "At 10:15 AM, Monday through Friday"
    assert (body["timezone"], body["misfire_policy"], body["overlap_policy"]) == (
        "UTC",
        "do_nothing",
        "allow",
    )
    assert body["data"] == {} and body["start_time"] is None and body["source"] == "api"
    assert body["next_fire_time"].endswith("T10:15:00Z")
    job = Job.objects.get()
    assert job.next_fire_time is not None and job.handler == "tests.echo"


def test_an_id_without_a_dot_has_the_default_group(api):
    body = post_job(api, "nightly", handler="tests.echo").json()
    assert (body["group"], body["name"]) == ("default", "nightly")


def test_get_answers_the_job_and_404_for_an_unknown_one(api, make_job):
    make_job(description="hello")
    assert api.get(f"{BASE}/jobs/reports.daily").json()["description"] == "hello"
    response = api.get(f"{BASE}/jobs/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "No job with id 'nope'."}


def test_post_replaces_the_whole_job_omitted_fields_take_their_defaults(api, make_job):
    make_job(description="old", data={"a": 1}, state="paused", timezone="Europe/Berlin", group="g")
    body = post_job(api, handler="tests.fail").json()
    assert body["handler"] == "tests.fail"
    assert (body["description"], body["data"], body["state"]) == ("", {}, "planned")
    assert (body["timezone"], body["group"]) == ("UTC", "reports")
    assert Job.objects.count() == 1


def test_post_takes_the_configured_default_time_zone(api, settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "DEFAULT_TIMEZONE": "Europe/Berlin"}
    assert post_job(api, handler="tests.echo").json()["timezone"] == "Europe/Berlin"


def test_patch_changes_only_the_fields_sent(api, make_job):
    make_job(description="old", data={"a": 1}, cron_expression="0 0 12 * * ?")
    response = api.patch(f"{BASE}/jobs/reports.daily", {"description": "new"}, format="json")
    assert response.status_code == 200
    job = Job.objects.get()
    assert (job.description, job.data, job.cron_expression) == ("new", {"a": 1}, "0 0 12 * * ?")


def test_patch_of_an_unknown_job_is_404_and_creates_nothing(api, db):
    response = api.patch(f"{BASE}/jobs/nope", {"description": "x"}, format="json")
    assert response.status_code == 404
    assert not Job.objects.exists()


def test_changing_only_description_or_data_keeps_the_next_fire_time(api, make_job):
    job = make_job(cron_expression="* * * * * ?")  # every second: any recomputation would move it
    Job.objects.filter(pk=job.pk).update(next_fire_time=job.next_fire_time.replace(year=2030))
    post_job(api, handler="tests.echo", cron_expression="* * * * * ?", description="d", data={"x": 1})
    api.patch(f"{BASE}/jobs/reports.daily", {"description": "again"}, format="json")
    assert Job.objects.get().next_fire_time.year == 2030


@pytest.mark.parametrize(
    "change",
    [
        {"cron_expression": "0 0 12 * * ?"},
        {"timezone": "Europe/Berlin"},
        {"start_time": "2031-01-01T00:00:00Z"},
        {"state": "paused"},
    ],
)
def test_changing_a_schedule_field_recomputes_the_next_fire_time(api, make_job, change):
    job = make_job(cron_expression="* * * * * ?")
    sentinel = job.next_fire_time.replace(year=2030)
    Job.objects.filter(pk=job.pk).update(next_fire_time=sentinel)
    assert api.patch(f"{BASE}/jobs/reports.daily", change, format="json").status_code == 200
    assert Job.objects.get().next_fire_time != sentinel


def test_a_fired_one_shot_job_is_rearmed_by_a_new_start_time(api, make_job):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(previous_fire_time=job.next_fire_time, next_fire_time=None)
    body = api.patch(
        f"{BASE}/jobs/reports.daily", {"start_time": "2031-05-01T08:00:00Z"}, format="json"
    ).json()
    assert body["next_fire_time"] == "2031-05-01T08:00:00Z"


def test_legacy_keys_and_enum_spellings_are_accepted(api):
    response = post_job(
        api,
        handlerType="tests.echo",
        cronExpression="0 0 12 1/5 * ?",
        startTimeUtc="2030-01-01T00:00:00Z",
        endTimeUtc="2031-01-01T00:00:00Z",
        misfirePolicy="FireAndProceed",
        state="Paused",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["handler"], body["cron_expression"]) == ("tests.echo", "0 0 12 1/5 * ?")
    assert (body["start_time"], body["end_time"]) == ("2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z")
    assert (body["misfire_policy"], body["state"]) == ("fire_and_proceed", "paused")
    assert "handlerType" not in body


@pytest.mark.parametrize(
    ("field", "sent", "stored"),
    [
        ("state", 0, "planned"),
        ("state", 1, "paused"),
        ("state", "PAUSED", "paused"),
        ("state", "planned", "planned"),
        ("misfire_policy", 0, "do_nothing"),
        ("misfire_policy", 1, "fire_and_proceed"),
        ("misfire_policy", "doNothing", "do_nothing"),
        ("misfire_policy", "FIRE_AND_PROCEED", "fire_and_proceed"),
        ("misfirePolicy", "DoNothing", "do_nothing"),
        ("overlap_policy", "Skip", "skip"),
    ],
)
def test_enum_values_in_any_spelling(api, field, sent, stored):
    response = post_job(api, handler="tests.echo", **{field: sent})
    assert response.status_code == 200, response.json()
    assert response.json()[field.replace("misfirePolicy", "misfire_policy")] == stored


def test_a_job_fetched_with_get_can_be_posted_back(api, make_job):
    make_job(description="round trip")
    body = api.get(f"{BASE}/jobs/reports.daily").json()
    response = api.post(f"{BASE}/jobs/reports.daily", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["description"] == "round trip"


def test_delete_removes_the_job_cancels_queued_executions_keeps_history(
    api, make_job, django_capture_on_commit_callbacks
):
    make_job()
    with django_capture_on_commit_callbacks(execute=False):  # queued, never run
        api.post(f"{BASE}/trigger?ids=reports.daily", {}, format="json")
    response = api.delete(f"{BASE}/jobs/reports.daily")
    assert response.status_code == 200
    assert response.json() == {"id": "reports.daily", "deleted": True}
    assert not Job.objects.exists()
    assert Execution.objects.get().status == Execution.Status.CANCELLED
    history = api.get(f"{BASE}/jobs/reports.daily/executions")
    assert history.status_code == 200 and len(history.json()) == 1
    again = api.delete(f"{BASE}/jobs/reports.daily")
    assert again.status_code == 404 and again.json()["unknown_ids"] == ["reports.daily"]


def test_trailing_slash_spellings_answer_the_same_without_redirect(api, make_job):
    make_job()
    for path in ("jobs/reports.daily", "jobs/reports.daily/"):
        response = api.get(f"{BASE}/{path}")
        assert response.status_code == 200
    response = api.post(f"{BASE}/jobs/x/", {"handler": "tests.echo"}, format="json")
    assert response.status_code == 200 and Job.objects.filter(pk="x").exists()


# -- refused input: the documented 4xx, and nothing changes ---------------------------------------

REFUSED_BODIES = [
    pytest.param({}, "handler", id="no-handler"),
    pytest.param({"handler": "nobody.knows"}, "handler", id="unknown-handler"),
    pytest.param(
        {"handler": "tests.echo", "cron_expression": "0 0 12 * * *"}, "cron_expression", id="bad-cron"
    ),
    pytest.param(
        {"handler": "tests.echo", "cron_expression": "61 * * * * ?"}, "cron_expression", id="bad-second"
    ),
    pytest.param({"handler": "tests.echo", "timezone": "Mars/Olympus"}, "timezone", id="bad-zone"),
    pytest.param(
        {"handler": "tests.echo", "start_time": "2030-01-02T00:00:00Z", "end_time": "2030-01-01T00:00:00Z"},
        "end_time",
        id="end-before-start",
    ),
    pytest.param(
        {"handler": "tests.echo", "start_time": "2030-01-01T00:00:00Z", "end_time": "2030-01-01T00:00:00Z"},
        "end_time",
        id="end-equals-start",
    ),
    pytest.param({"handler": "tests.echo", "start_time": "yesterday"}, "start_time", id="bad-time"),
    pytest.param({"handler": "tests.echo", "data": [1, 2]}, "data", id="data-array"),
    pytest.param({"handler": "tests.echo", "data": "text"}, "data", id="data-string"),
    pytest.param({"handler": "tests.echo", "state": "running"}, "state", id="bad-state"),
    pytest.param({"handler": "tests.echo", "state": 2}, "state", id="bad-state-number"),
    pytest.param({"handler": "tests.echo", "state": True}, "state", id="state-bool"),
    pytest.param({"handler": "tests.echo", "misfire_policy": "fire"}, "misfire_policy", id="bad-policy"),
    pytest.param({"handler": "tests.echo", "id": "other"}, "id", id="body-id-differs"),
    pytest.param({"handler": "tests.echo", "handlr": "x"}, "handlr", id="unknown-key"),
    pytest.param({"handlerType": "tests.echo", "handler": "tests.fail"}, "handlerType", id="alias-conflict"),
]


def assert_refused(api, make_job, unchanged, method, body, field):
    make_job()
    guard = unchanged()
    response = getattr(api, method)(f"{BASE}/jobs/reports.daily", body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert all(isinstance(m, str) for m in response.json()[field])
    guard.check()


@pytest.mark.parametrize(("body", "field"), REFUSED_BODIES)
def test_post_refuses_invalid_fields_naming_them_and_changes_nothing(api, make_job, unchanged, body, field):
    assert_refused(api, make_job, unchanged, "post", body, field)


@pytest.mark.parametrize(("body", "field"), REFUSED_BODIES[1:])  # a PATCH may omit the handler
def test_patch_refuses_invalid_fields_naming_them_and_changes_nothing(api, make_job, unchanged, body, field):
    assert_refused(api, make_job, unchanged, "patch", body, field)


def test_the_unknown_handler_message_lists_the_registered_ones(api):
    message = post_job(api, handler="nobody").json()["handler"][0]
    assert "Unknown handler 'nobody'" in message and "tests.echo" in message


def test_the_invalid_cron_message_is_the_engines(api):
    message = post_job(api, handler="tests.echo", cron_expression="0 0 12 * * *").json()["cron_expression"][0]
    assert "day-of-month and day-of-week" in message


def test_unknown_keys_are_all_named(api, db):
    body = post_job(api, handler="tests.echo", foo=1, barr=2).json()
    assert set(body) == {"foo", "barr"}


@pytest.mark.parametrize("job_id", ["a b", "bad id!", "x" * 201, "a%25b", "é", "..."])
@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_a_malformed_id_is_400_for_every_method(api, unchanged, make_job, method, job_id):
    """docs/api.rst: an id that cannot be a job's is a 400 naming ``id``, whatever the method."""
    make_job("a")
    guard = unchanged()
    body = {"handler": "tests.echo"} if method in ("post", "patch") else None  # a GET's would be a query
    response = getattr(api, method)(f"{BASE}/jobs/{job_id}", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["id"]
    assert api.get(f"{BASE}/jobs/{job_id}/executions").status_code == 400
    guard.check()


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        pytest.param("{not json", "application/json", 400, id="malformed"),
        pytest.param("[1, 2]", "application/json", 400, id="array"),
        pytest.param('"text"', "application/json", 400, id="string"),
        pytest.param("42", "application/json", 400, id="number"),
        pytest.param("null", "application/json", 400, id="null"),
        pytest.param("handler=tests.echo", "application/x-www-form-urlencoded", 415, id="form"),
        pytest.param('{"handler": "tests.echo"}', "text/plain", 415, id="text-plain"),
        pytest.param('{"handler": "tests.echo"}', "", 415, id="no-type"),
    ],
)
@pytest.mark.parametrize("method", ["post", "patch"])
def test_bodies_that_are_not_a_json_object_are_refused(
    api, make_job, unchanged, content, content_type, status, method
):
    make_job()
    guard = unchanged()
    response = api.generic(method.upper(), f"{BASE}/jobs/reports.daily", content, content_type=content_type)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json()["detail"], str)
    guard.check()


def test_a_json_body_with_charset_is_accepted(api, db):
    content = json.dumps({"handler": "tests.echo"})
    response = api.post(f"{BASE}/jobs/j", content, content_type="application/json; charset=utf-8")
    assert response.status_code == 200


def test_times_are_utc_whatever_the_projects_time_zone(api, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    body = post_job(
        api, handler="tests.echo", start_time="2031-06-01T08:00:00", cron_expression="0 0 12 * * ?"
    ).json()
    assert body["start_time"] == "2031-06-01T08:00:00Z"
    assert body["next_fire_time"] == "2031-06-01T12:00:00Z"
    assert body["created_at"].endswith("Z")


def test_ids_groups_and_handler_filters_are_case_sensitive_on_every_database(api):
    """``Report`` and ``report`` are two jobs, as on PostgreSQL and SQLite, also where the database's
    default collation ignores case (MariaDB): the id columns compare bytes."""
    post_job(api, "Reports.Daily", handler="tests.echo", description="upper")
    post_job(api, "reports.daily", handler="tests.echo", description="lower")
    assert Job.objects.count() == 2
    assert api.get(f"{BASE}/jobs/Reports.Daily").json()["description"] == "upper"
    assert api.get(f"{BASE}/jobs/reports.daily").json()["description"] == "lower"
    assert [job["id"] for job in api.get(f"{BASE}/jobs?group=Reports").json()] == ["Reports.Daily"]
    assert api.get(f"{BASE}/jobs/REPORTS.DAILY").status_code == 404
    api.delete(f"{BASE}/jobs/reports.daily")
    assert list(Job.objects.values_list("id", flat=True)) == ["Reports.Daily"]


def test_times_keep_their_microseconds(api):
    post_job(api, handler="tests.echo", start_time="2030-01-02T03:04:05.123456Z")
    assert api.get(f"{BASE}/jobs/reports.daily").json()["start_time"] == "2030-01-02T03:04:05.123456Z"
