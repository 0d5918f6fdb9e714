"""Interval schedules (docs/scheduling.rst, "Intervals"): the arithmetic, and the same field, rules
and messages in the API, the admin, the CLI, declared jobs and the preview."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management.base import CommandError
from django.urls import reverse

from django_scheduler_api import services
from django_scheduler_api.declared import sync_declared_jobs
from django_scheduler_api.models import Execution, Job
from django_scheduler_api.planning import (
    EPOCH,
    Fire,
    Schedule,
    describe_interval,
    next_fire_time,
    plan_due_job,
)
from tests.admin.conftest import form_data
from tests.api.conftest import BASE
from tests.support import scheduler

T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
S = timedelta(seconds=1)
NINETY_MINUTES = 90 * 60


def fires(schedule: Schedule, after: datetime, count: int = 5) -> list[datetime]:
    found = []
    while len(found) < count:
        fire = next_fire_time(schedule, after, previous_fire_time=found[-1] if found else None)
        if fire is None:
            break
        found.append(fire)
        after = fire
    return found


# -- the arithmetic ---------------------------------------------------------------------------


def test_without_anchor_fires_fall_on_multiples_since_the_epoch():
    schedule = Schedule(interval=NINETY_MINUTES)
    assert fires(schedule, T0 + 5 * S, 3) == [T0 + timedelta(minutes=m) for m in (30, 120, 210)]
    assert all((f - EPOCH) % timedelta(seconds=NINETY_MINUTES) == timedelta(0) for f in fires(schedule, T0))


def test_the_anchor_is_the_first_fire_and_sets_the_phase():
    anchor = T0 + timedelta(seconds=7, microseconds=250_000)
    schedule = Schedule(interval=10, interval_anchor=anchor)
    assert fires(schedule, T0, 3) == [anchor, anchor + 10 * S, anchor + 20 * S]
    # Strictly after: a fire exactly at ``after`` is not the next one.
    assert next_fire_time(schedule, anchor + 10 * S) == anchor + 20 * S
    # An anchor many intervals away: nothing fires before it (no fire counted back from it).
    tomorrow = T0 + timedelta(days=1)
    assert next_fire_time(Schedule(interval=10, interval_anchor=tomorrow), T0) == tomorrow


def test_start_time_is_the_anchor_when_none_is_given():
    assert fires(Schedule(interval=60, start_time=T0 + 13 * S), T0, 2) == [T0 + 13 * S, T0 + 73 * S]


def test_an_anchor_before_start_time_keeps_its_phase_but_fires_from_start_time_on():
    schedule = Schedule(interval=60, interval_anchor=T0, start_time=T0 + 90 * S)
    assert fires(schedule, T0 - S, 2) == [T0 + 120 * S, T0 + 180 * S]


def test_repeat_count_counts_fires_after_the_first_as_quartz_does():
    schedule = Schedule(interval=2, interval_anchor=T0, repeat_count=3)
    assert fires(schedule, T0 - S, 10) == [T0, T0 + 2 * S, T0 + 4 * S, T0 + 6 * S]
    assert fires(Schedule(interval=2, interval_anchor=T0, repeat_count=0), T0 - S, 10) == [T0]
    assert next_fire_time(schedule, T0 + 6 * S) is None


def test_end_time_ends_an_interval():
    schedule = Schedule(interval=30, interval_anchor=T0, end_time=T0 + 60 * S)
    assert fires(schedule, T0 - S, 10) == [T0, T0 + 30 * S, T0 + 60 * S]


def test_a_fire_far_away_costs_one_step_and_past_the_year_9999_there_is_none():
    schedule = Schedule(interval=1, interval_anchor=T0)
    assert next_fire_time(schedule, T0 + timedelta(days=3650)) == T0 + timedelta(days=3650) + S
    late = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert next_fire_time(Schedule(interval=2**31 - 1), late - S) is None


def test_catch_up_and_misfires_follow_the_cron_rules():
    schedule = Schedule(interval=10, interval_anchor=T0)
    threshold = timedelta(seconds=60)
    late = plan_due_job(schedule, T0, T0 + 25 * S, misfire_policy="do_nothing", threshold=threshold)
    assert [f.scheduled for f in late.fires] == [T0, T0 + 10 * S, T0 + 20 * S]
    assert late.next_fire_time == T0 + 30 * S
    missed = plan_due_job(schedule, T0, T0 + 125 * S, misfire_policy="do_nothing", threshold=threshold)
    assert missed.fires == () and missed.next_fire_time == T0 + 130 * S
    proceed = plan_due_job(schedule, T0, T0 + 125 * S, misfire_policy="fire_and_proceed", threshold=threshold)
    assert proceed.fires == (Fire(T0, Execution.Trigger.MISFIRE),)
    assert proceed.next_fire_time == T0 + 130 * S


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, "Every second"), (45, "Every 45 seconds"), (60, "Every minute"), (5400, "Every 90 minutes"),
     (7200, "Every 2 hours"), (86400, "Every day"), (90061, "Every 90061 seconds")],
)  # fmt: skip
def test_descriptions(seconds, words):
    assert describe_interval(seconds) == words


# -- the API ----------------------------------------------------------------------------------


def test_an_interval_job_answers_its_fields_and_next_fire(api, db):
    anchor = datetime(2030, 1, 1, 0, 0, 7, tzinfo=UTC)
    body = {"handler": "tests.echo", "interval": 5400, "interval_anchor": "2030-01-01T00:00:07Z"}
    response = api.post(f"{BASE}/jobs/every90", body, format="json")
    assert response.status_code == 200, response.json()
    job = response.json()
    assert (job["interval"], job["interval_anchor"], job["repeat_count"]) == (
        5400,
        "2030-01-01T00:00:07Z",
        None,
    )
    assert job["cron_expression"] == "" and job["cron_description"] == "Every 90 minutes"
    assert job["next_fire_time"] == "2030-01-01T00:00:07Z"
    assert Job.objects.get().next_fire_time == anchor


def test_the_legacy_body_is_unchanged_and_answers_null_intervals(api, db):
    body = {"handlerType": "tests.echo", "cronExpression": "0 0 12 * * ?"}
    job = api.post(f"{BASE}/jobs/legacy", body, format="json").json()
    assert (job["interval"], job["interval_anchor"], job["repeat_count"]) == (None, None, None)


def test_patch_switches_from_cron_to_interval_and_moves_the_next_fire(api, make_job):
    make_job("switch", cron_expression="0 0 12 * * ?")
    body = {"cron_expression": "", "interval": 60}
    job = api.patch(f"{BASE}/jobs/switch", body, format="json").json()
    assert job["interval"] == 60
    assert datetime.fromisoformat(job["next_fire_time"]).second == 0  # epoch phase: whole minutes
    assert Job.objects.get().next_fire_time - datetime.now(UTC) <= timedelta(seconds=60)


AT_LEAST_1 = "Ensure this value is greater than or equal to 1."
BOTH = "Give either cron_expression or interval, not both."
NO_ANCHOR = "repeat_count needs interval_anchor or start_time: the fires are counted from it."
INTERVAL_REFUSALS = [
    pytest.param({"interval": 0}, "interval", AT_LEAST_1, id="zero"),
    pytest.param({"interval": -5}, "interval", AT_LEAST_1, id="negative"),
    pytest.param({"interval": 2**31}, "interval", "Ensure this value is less than or equal to 2147483647.",
                 id="big"),
    pytest.param(
        {"interval": 10, "cron_expression": "0 * * * * ?"}, "interval",
        BOTH, id="both",
    ),
    pytest.param(
        {"interval_anchor": "2030-01-01T00:00:00Z"}, "interval_anchor", "interval_anchor needs an interval.",
        id="anchor-alone",
    ),
    pytest.param({"repeat_count": 3}, "repeat_count", "repeat_count needs an interval.", id="count-alone"),
    pytest.param(
        {"interval": 10, "repeat_count": 3}, "repeat_count",
        NO_ANCHOR, id="count-no-anchor",
    ),
    pytest.param(
        {"interval": 10, "interval_anchor": "2030-01-01T00:00:00Z", "repeat_count": -1}, "repeat_count",
        "Ensure this value is greater than or equal to 0.", id="count-negative",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "field", "message"), INTERVAL_REFUSALS)
def test_the_api_refuses_bad_intervals_and_changes_nothing(api, make_job, unchanged, fields, field, message):
    make_job("kept", cron_expression="0 0 12 * * ?")
    guard = unchanged()
    response = api.post(f"{BASE}/jobs/kept", {"handler": "tests.echo", **fields}, format="json")
    assert response.status_code == 400
    assert response.json()[field] == [message]
    guard.check()


def test_patch_reads_the_stored_cron_when_it_adds_an_interval(api, make_job, unchanged):
    make_job("kept", cron_expression="0 0 12 * * ?")
    guard = unchanged()
    response = api.patch(f"{BASE}/jobs/kept", {"interval": 10}, format="json")
    assert response.json() == {"interval": [BOTH]}
    guard.check()


def test_preview_of_an_interval(api, db):
    query = {"interval": 5400, "interval_anchor": "2030-01-01T00:00:00Z", "repeat_count": 2, "count": 5}
    body = api.get(f"{BASE}/preview", {**query, "after": "2029-12-31T00:00:00Z"}).json()
    assert body["description"] == "Every 90 minutes" and body["cron_expression"] == ""
    assert body["fire_times"] == ["2030-01-01T00:00:00Z", "2030-01-01T01:30:00Z", "2030-01-01T03:00:00Z"]
    assert (body["interval"], body["interval_anchor"], body["repeat_count"]) == (
        5400,
        query["interval_anchor"],
        2,
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [({}, "cron_expression"), ({"interval": 0}, "interval"),
     ({"interval": 5, "cron_expression": "* * * * * ?"}, "interval"),
     ({"interval": 5, "repeat_count": 1}, "repeat_count")],
)  # fmt: skip
def test_preview_refuses_what_a_job_refuses(api, db, query, field):
    response = api.get(f"{BASE}/preview", query)
    assert response.status_code == 400 and field in response.json()


def test_the_schema_documents_the_interval_fields(api, db):
    schema = api.get(f"{BASE}/schema", {"format": "json"}).json()
    job = schema["components"]["schemas"]["JobRequest"]["properties"]
    assert job["interval"]["minimum"] == 1 and job["interval"]["nullable"] is True
    assert job["interval_anchor"]["format"] == "date-time"
    assert job["repeat_count"]["minimum"] == 0
    names = [p["name"] for p in schema["paths"]["/scheduler/preview"]["get"]["parameters"]]
    assert {"interval", "interval_anchor", "repeat_count"} <= set(names)


# -- the admin --------------------------------------------------------------------------------

ADD = reverse("admin:django_scheduler_api_job_add")


def test_the_admin_adds_an_interval_job_and_shows_its_fires(admin_client, db):
    fields = form_data(id="every90", cron_expression="", interval="5400")
    response = admin_client.post(
        ADD, {**fields, "interval_anchor_0": "2030-01-01", "interval_anchor_1": "00:00:00"}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    job = Job.objects.get()
    assert (job.interval, job.next_fire_time) == (5400, datetime(2030, 1, 1, tzinfo=UTC))
    page = admin_client.get(
        reverse("admin:django_scheduler_api_job_change", args=["every90"])
    ).content.decode()
    assert "Every 90 minutes" in page and "2030-01-01 01:30:00 UTC" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"interval": "0"}, "interval", AT_LEAST_1),
        ({"interval": "10"}, "interval", BOTH),
        ({"cron_expression": "", "repeat_count": "3"}, "repeat_count", "repeat_count needs an interval."),
        (
            {"cron_expression": "", "interval": "10", "repeat_count": "3"}, "repeat_count",
            NO_ANCHOR,
        ),
    ],
)  # fmt: skip
def test_the_admin_refuses_what_the_api_refuses(admin_client, db, overrides, field, message):
    response = admin_client.post(ADD, form_data(**overrides))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [message]
    assert not Job.objects.exists()


# -- declared jobs ----------------------------------------------------------------------------
# A declaration refused with the API's words: tests/test_declared.py, with the interval cases.


def test_a_declared_interval_job(settings, db):
    declared = {
        "id": "tick",
        "handler": "tests.echo",
        "interval": 30,
        "interval_anchor": "2030-01-01T00:00:00",
    }
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "JOBS": [declared]}
    assert sync_declared_jobs().created == ["tick"]
    job = Job.objects.get()
    anchor = datetime(2030, 1, 1, tzinfo=UTC)
    assert (job.interval, job.interval_anchor, job.next_fire_time) == (30, anchor, anchor)
    assert sync_declared_jobs().unchanged == ["tick"]  # a restart keeps the phase and the next fire


# -- the CLI ----------------------------------------------------------------------------------


def test_the_cli_shows_lists_and_previews_intervals(db):
    services.save_job("every90", {"handler": "tests.echo", "interval": 5400, "interval_anchor": T0})
    assert "every 5400 s" in scheduler("list")
    shown = scheduler("show", "every90")
    assert "Every 90 minutes" in shown and "interval:" in shown and "5400" in shown
    preview = scheduler(
        "preview", "--interval", "60", "--interval-anchor", "2030-01-01T00:00:30Z", "--count", "2"
    )
    assert "every 60 s: Every minute" in preview
    assert "2030-01-01 00:00:30 UTC" in preview and "2030-01-01 00:01:30 UTC" in preview


def test_the_cli_refuses_with_the_api_words(db):
    with pytest.raises(CommandError, match=re.escape(BOTH)):
        scheduler("preview", "* * * * * ?", "--interval", "5")
    with pytest.raises(CommandError, match=re.escape(AT_LEAST_1)):
        scheduler("preview", "--interval", "0")


def test_a_handler_declares_an_interval_job(db):
    from django_scheduler_api.registry import registry

    registry.register("tests.tick", lambda ctx: None, interval=30)
    try:
        assert sync_declared_jobs().created == ["tests.tick"]
    finally:
        registry.unregister("tests.tick")
    job = Job.objects.get()
    assert (job.interval, job.cron_expression) == (30, "")
    assert (job.next_fire_time - EPOCH).total_seconds() % 30 == 0
