"""``manage.py scheduler``: every subcommand, its ``--json`` (the REST API's JSON) and its errors
(non-zero exit, the API's message)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from django_scheduler_api import calendars, services
from django_scheduler_api.models import Execution, Job, SchedulerNode
from tests.admin.conftest import make_execution, make_job
from tests.support import ROOT, child_env, scheduler

BASE = "http://testserver"


def scheduler_json(*args: str):
    return json.loads(scheduler(*args, "--json", "--base-url", BASE))


def refused(*args: str) -> str:
    """Run a command that must fail; its error message."""
    with pytest.raises(CommandError) as caught:
        scheduler(*args)
    return str(caught.value)


@pytest.fixture
def jobs(db):
    daily = make_job("reports.daily", description="Mail the daily report", data={"to": "team"})
    make_job("reports.weekly", cron_expression="0 0 8 ? * MON", handler="tests.sleep")
    make_job("cleanup", state=Job.State.PAUSED)
    make_execution(daily, Execution.Status.FAILED, minutes_ago=10, error="RuntimeError: boom")
    return daily


# -- status -----------------------------------------------------------------------------------


def test_status_without_scheduler(jobs):
    text = scheduler("status")
    assert "Scheduler: not started" in text
    assert "Jobs:      3 (2 planned, 1 paused)" in text
    data = scheduler_json("status")
    assert data["is_started"] is False and data["nodes"] == []
    assert data["all"] == {"count": 3, "url": f"{BASE}/scheduler/jobs?skip=0&take=10"}
    assert data["paused"] == {"count": 1, "url": f"{BASE}/scheduler/jobs?state=paused&skip=0&take=10"}
    assert data["planned"]["count"] == 2


def test_status_with_a_live_node(jobs):
    now = timezone.now()
    SchedulerNode.objects.create(name="host:1", hostname="host", pid=1, started_at=now, last_seen=now)
    SchedulerNode.objects.create(
        name="old:2", hostname="old", pid=2, started_at=now, last_seen=now - timedelta(hours=1)
    )
    assert "Scheduler: started (1 node(s))" in scheduler("status")
    data = scheduler_json("status")
    assert data["is_started"] is True
    assert [n["name"] for n in data["nodes"]] == ["host:1"]


# -- list -------------------------------------------------------------------------------------


def test_list_table(jobs):
    text = scheduler("list")
    lines = text.splitlines()
    assert lines[0].split() == [
        "ID", "STATE", "HANDLER", "SCHEDULE", "LIMITS", "NEXT", "FIRE", "(UTC)", "ATTEMPTS"
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:4]] == ["cleanup", "reports.daily", "reports.weekly"]
    assert "1-3 of 3 job(s)" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), ["cleanup", "reports.daily", "reports.weekly"]),
        (("--state", "PAUSED"), ["cleanup"]),
        (("--state", "planned"), ["reports.daily", "reports.weekly"]),
        (("--group", "reports"), ["reports.daily", "reports.weekly"]),
        (("--handler", "tests.sleep"), ["reports.weekly"]),
        (("--skip", "1", "--take", "1"), ["reports.daily"]),
    ],
)
def test_list_filters_and_paging(jobs, args, expected):
    assert [job["id"] for job in scheduler_json("list", *args)] == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--state", "sleeping"), 'state: "sleeping" is not a valid choice.'),
        (("--skip", "-1"), "skip: Ensure this value is greater than or equal to 0."),
        (("--take", "0"), "take: Ensure this value is greater than or equal to 1."),
        (("--take", "101"), "take: Ensure this value is less than or equal to 100."),
        (("--take", "many"), "take: A valid integer is required."),
    ],
)
def test_list_refuses_bad_queries_with_the_api_message(jobs, args, message):
    assert refused("list", *args) == message


# -- show -------------------------------------------------------------------------------------


def test_show_human(jobs):
    text = scheduler("show", "reports.daily")
    assert "cron_description:   At 12:00 PM" in text
    assert 'data:               {"to": "team"}' in text
    assert text.count(" 12:00:00\n") >= 4  # the next fire times
    assert "RuntimeError: boom" in text and "failed" in text


def test_show_json_is_the_job_serializer(jobs):
    data = scheduler_json("show", "reports.daily")
    assert data["id"] == "reports.daily"
    assert data["url"] == f"{BASE}/scheduler/jobs/reports.daily"
    assert data["executions_url"] == f"{BASE}/scheduler/jobs/reports.daily/executions"
    assert data["cron_description"] == "At 12:00 PM"
    assert data["data"] == {"to": "team"}


def test_show_unknown_job(db):
    assert refused("show", "nope") == "No job with id 'nope'."


# -- pause / resume / trigger / delete ----------------------------------------------------------


def test_pause_ids_separated_like_the_api(jobs):
    text = scheduler("pause", "reports.daily, reports.weekly;reports.daily")
    assert text.strip() == "Paused 2 job(s): reports.daily, reports.weekly."
    assert set(Job.objects.values_list("state", flat=True)) == {Job.State.PAUSED}


def test_pause_without_ids_pauses_all(jobs):
    assert scheduler_json("pause") == {"paused": ["cleanup", "reports.daily", "reports.weekly"]}


def test_resume(jobs):
    assert scheduler_json("resume", "cleanup") == {"resumed": ["cleanup"]}
    assert Job.objects.get(pk="cleanup").state == Job.State.PLANNED


@pytest.mark.parametrize("subcommand", ["pause", "resume", "trigger"])
def test_unknown_ids_change_nothing(jobs, subcommand):
    message = refused(subcommand, "reports.daily", "nope", "ghost")
    assert message == "Unknown job ids: nope, ghost"
    assert Job.objects.get(pk="reports.daily").state == Job.State.PLANNED
    assert not Execution.objects.filter(trigger=Execution.Trigger.MANUAL).exists()


def test_trigger_merges_data_and_answers_like_the_api(jobs):
    data = scheduler_json("trigger", "reports.daily", "cleanup", "--data", '{"to": "me", "k": 1}')
    triggered = data["triggered"]
    assert [t["job"] for t in triggered] == ["reports.daily", "cleanup"]
    execution = Execution.objects.get(pk=triggered[0]["execution"])
    assert triggered[0]["url"] == f"{BASE}/scheduler/executions/{execution.pk}"
    assert execution.trigger == Execution.Trigger.MANUAL
    assert execution.data == {"to": "me", "k": 1}


def test_trigger_without_ids_fires_planned_jobs(jobs):
    text = scheduler("trigger")
    assert "Triggered 2 job(s)." in text
    assert set(Execution.objects.filter(trigger="manual").values_list("job_id", flat=True)) == {
        "reports.daily",
        "reports.weekly",
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("[1, 2]", "The body must be a JSON object, not list."),
        ("{nope", "JSON parse error - "),
        # the API's body rules (jsonvalues): what no database stores alike
        ('{"x": NaN}', "JSON parse error - NaN is not a JSON number."),
        ('{"x": 1e400}', "JSON parse error - The number 1e400 is too large"),
        ('{"x": "\\ud800"}', "JSON parse error - JSON strings must not contain a lone UTF-16 surrogate"),
        ('{"x": "\\u0000"}', "JSON parse error - JSON strings must not contain the NUL character"),
        ('{"x": 1, "x": 2}', "JSON parse error - Duplicate key 'x'"),
    ],
)
def test_trigger_refuses_data_that_is_not_an_object(jobs, data, message):
    assert refused("trigger", "reports.daily", "--data", data).startswith(message)
    assert not Execution.objects.filter(trigger=Execution.Trigger.MANUAL).exists()


def test_delete_cancels_queued_executions(jobs):
    queued = make_execution(jobs, Execution.Status.QUEUED, minutes_ago=-1)
    assert scheduler_json("delete", "reports.daily") == {"id": "reports.daily", "deleted": True}
    queued.refresh_from_db()
    assert queued.status == Execution.Status.CANCELLED
    assert refused("delete", "reports.daily") == "Unknown job ids: reports.daily"
    assert scheduler("delete", "cleanup").strip() == "Deleted job cleanup."


# -- preview ------------------------------------------------------------------------------------


def test_preview_in_a_zone(db):
    data = scheduler_json(
        "preview", "0 30 2 * * ?", "--timezone", "Europe/Berlin", "--after", "2026-03-27T00:00:00Z"
    )
    assert data["cron_expression"] == "0 30 2 * * ?"
    assert data["timezone"] == "Europe/Berlin"
    assert data["description"] == "At 02:30 AM"
    # 2026-03-29 02:30 does not exist in Berlin (spring forward): Quartz skips that day.
    assert data["fire_times"][:3] == ["2026-03-27T01:30:00Z", "2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"]
    assert len(data["fire_times"]) == 10


def test_preview_human(db):
    text = scheduler("preview", "0 0 12 1/5 * ?", "--after", "2026-01-01T00:00:00Z", "--count", "2")
    assert text.splitlines() == [
        "0 0 12 1/5 * ?: At 12:00 PM, every 5 days (UTC)",
        "  2026-01-01 12:00:00 UTC",
        "  2026-01-06 12:00:00 UTC",
    ]


def test_preview_of_a_past_only_expression_has_no_times(db):
    data = scheduler_json("preview", "0 0 0 1 1 ? 2016", "--after", "2026-01-01T00:00:00Z")
    assert data["fire_times"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("0 0 25 * * ?",), "cron_expression: hours: 25 is out of range 0-23"),
        (("0 0 12 * * ?", "--timezone", "Mars/Base"), "timezone: Unknown time zone 'Mars/Base'."),
        (("0 0 12 * * ?", "--count", "0"), "count: Ensure this value is greater than or equal to 1."),
        (("0 0 12 * * ?", "--after", "soon"), "after: Datetime has wrong format."),
    ],
)
def test_preview_errors(db, args, message):
    assert refused("preview", *args).startswith(message)


# -- the process: exit status and stderr --------------------------------------------------------


def test_errors_exit_non_zero_with_the_message_on_stderr(transactional_db):
    # transactional_db, not the jobs fixture: a test transaction holds SQLite's write lock, and the
    # child's system checks (Django 6.1 probes JSON support inside a transaction) would wait on it.
    command = [sys.executable, "-m", "django", "scheduler"]
    env = child_env()
    result = subprocess.run([*command, "show", "nope"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "CommandError: No job with id 'nope'." in result.stderr
    result = subprocess.run(
        [*command, "preview", "* * * * * *"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "CommandError: cron_expression:" in result.stderr
    result = subprocess.run(
        [*command, "preview", "0 0 12 * * ?", "--json", "--count", "1"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cron_expression"] == "0 0 12 * * ?"


def call_api(client, method: str, path: str):
    """A request to the REST API as a script sends it (JSON, empty body)."""
    return getattr(client, method)(path, content_type="application/json")


# -- the same JSON as the REST API --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (("status",), "/scheduler/"),
        (("list",), "/scheduler/jobs"),
        (("list", "--state", "paused", "--take", "1"), "/scheduler/jobs?state=paused&take=1"),
        (("show", "reports.daily"), "/scheduler/jobs/reports.daily"),
        (
            ("preview", "0 15 10 L-2 * ?", "--timezone", "Asia/Tokyo", "--after", "2026-01-01T00:00:00Z"),
            "/scheduler/preview?cron_expression=0+15+10+L-2+*+%3F&timezone=Asia/Tokyo"
            "&after=2026-01-01T00:00:00Z",
        ),
    ],
)
def test_json_equals_the_rest_api(client, jobs, args, path):
    response = client.get(path)
    assert response.status_code == 200
    assert scheduler_json(*args) == response.json()


@pytest.mark.parametrize(
    ("args", "method", "path"),
    [
        (("pause", "reports.daily"), "post", "/scheduler/pause?ids=reports.daily"),
        (("resume", "cleanup"), "post", "/scheduler/resume?ids=cleanup"),
        (("delete", "cleanup"), "delete", "/scheduler/jobs/cleanup"),
    ],
)
def test_changes_answer_like_the_rest_api(client, jobs, args, method, path):
    from django.db import transaction

    with transaction.atomic():
        from_cli = scheduler_json(*args)
        transaction.set_rollback(True)
    response = call_api(client, method, path)
    assert response.status_code == 200
    assert from_cli == response.json()


@pytest.mark.parametrize(
    ("args", "method", "path"),
    [
        (("show", "nope"), "get", "/scheduler/jobs/nope"),
        (("delete", "nope"), "delete", "/scheduler/jobs/nope"),
        (("pause", "nope,reports.daily"), "post", "/scheduler/pause?ids=nope,reports.daily"),
        (("trigger", "ghost"), "post", "/scheduler/trigger?ids=ghost"),
        (("list", "--take", "1000"), "get", "/scheduler/jobs?take=1000"),
        (("preview", "0 0 0 ? * ?"), "get", "/scheduler/preview?cron_expression=0+0+0+%3F+*+%3F"),
    ],
)
def test_errors_carry_the_rest_api_message(client, jobs, args, method, path):
    from django_scheduler_api.cli.api import error_message

    answer = call_api(client, method, path).json()
    expected = answer["detail"] if "detail" in answer else error_message(answer)
    assert refused(*args) == expected


# -- calendars ----------------------------------------------------------------------------------


def test_preview_with_calendars_skips_what_they_exclude_as_the_api_does(db, client):
    calendars.save_calendar("new-year", {"yearly_dates": ["01-01"]})
    calendars.save_calendar("nights", {"cron_expressions": ["* * 0-6 ? * *"]})
    args = ("preview", "0 0 */6 * * ?", "--after", "2026-12-31T12:00:00Z", "--count", "3")
    data = scheduler_json(*args, "--calendar", "new-year,nights")
    assert data["fire_times"] == ["2026-12-31T18:00:00Z", "2027-01-02T12:00:00Z", "2027-01-02T18:00:00Z"]
    query = "cron_expression=0+0+*/6+*+*+%3F&after=2026-12-31T12:00:00Z&count=3&calendar=new-year,nights"
    assert call_api(client, "get", f"/scheduler/preview?{query}").json() == data
    text = scheduler(*args, "--calendar", "new-year,nights")
    assert text.splitlines()[0].endswith(", not in new-year, nights")


def test_calendar_refusals_are_the_api_s(db):
    calendars.save_calendar("always", {"cron_expressions": ["* * * ? * *"]})
    assert refused("preview", "0 0 12 * * ?", "--calendar", "gone") == (
        "calendar: Unknown calendar 'gone'. Calendars: always."
    )
    assert "'always' exclude every fire" in refused("preview", "0 0 12 * * ?", "--calendar", "always")


def test_calendars_are_listed_and_shown_on_their_jobs(db):
    calendars.save_calendar(
        "holidays", {"dates": ["2030-12-25", "2030-12-26"], "cron_expressions": ["* * 0 ? * *"]}
    )
    services.save_job(
        "uses.it", {"handler": "tests.echo", "cron_expression": "0 0 9 * * ?", "calendars": ["holidays"]}
    )
    listed = scheduler("calendars")
    assert listed.splitlines()[1].split() == ["holidays", "2", "0", "0", "*", "*", "0", "?", "*", "*"]
    assert scheduler_json("calendars")[0]["id"] == "holidays"
    shown = [line.split() for line in scheduler("show", "uses.it").splitlines()]
    assert ["calendars:", "holidays"] in shown
