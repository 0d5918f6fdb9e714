"""``scheduler create`` and ``scheduler update``: every writable field from the command line, the
API's rules and words, and nothing changed by a refusal."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.core.management.base import CommandError

from django_scheduler_api.cli.api import error_message
from django_scheduler_api.cli.editing import FIELDS
from django_scheduler_api.models import Job
from django_scheduler_api.validation import WRITABLE_FIELDS
from tests.api.conftest import BASE
from tests.support import ROOT, child_env, scheduler

# Every writable field, as options and as the API's body.
EVERY_FIELD = {
    "group": "reports",
    "name": "Nightly",
    "state": "paused",
    "description": "Mail the report",
    "handler": "tests.echo",
    "cron_expression": "0 30 2 ? * MON-FRI",
    "timezone": "Europe/Berlin",
    "start_time": "2030-01-01T00:00:00Z",
    "end_time": "2031-01-01T00:00:00Z",
    "misfire_policy": "fire_and_proceed",
    "overlap_policy": "skip",
    "jitter": "30",
    "data": '{"to": ["ops@example.com"], "dry_run": false}',
}
INTERVAL = {"interval": "5400", "interval_anchor": "2030-01-01T00:00:07Z", "repeat_count": "7"}


def options(fields: dict[str, str]) -> list[str]:
    return [arg for name, value in fields.items() for arg in ("--" + name.replace("_", "-"), value)]


def scheduler_json(*args: str):
    return json.loads(scheduler(*args, "--json", "--base-url", "http://testserver"))


def body(fields: dict[str, str]) -> dict:
    """The API's body for the same fields (numbers and data as JSON)."""
    values = {k: int(v) if k in ("jitter", "interval", "repeat_count") else v for k, v in fields.items()}
    return {**values, **({"data": json.loads(fields["data"])} if "data" in fields else {})}


def without_times(job: dict) -> dict:
    return {k: v for k, v in job.items() if k not in ("created_at", "updated_at", "next_fire_time")}


def test_create_and_update_take_an_option_per_writable_field():
    import argparse

    from django_scheduler_api.management.commands.scheduler import Command

    parser = Command().create_parser("manage.py", "scheduler")
    [subcommands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name in ("create", "update"):
        dests = {a.dest for a in subcommands.choices[name]._actions if a.option_strings}
        assert set(WRITABLE_FIELDS) - {"id"} <= dests, name
        assert set(FIELDS) == set(WRITABLE_FIELDS) - {"id"}


def test_create_with_every_field_is_the_api_post(api, db):
    created = scheduler_json("create", "cli.job", *options(EVERY_FIELD))
    posted = api.post(f"{BASE}/jobs/api.job", body(EVERY_FIELD), format="json").json()
    expected = {**without_times(posted), "id": "cli.job", "url": f"http://testserver{BASE}/jobs/cli.job"}
    expected["executions_url"] = f"http://testserver{BASE}/jobs/cli.job/executions"
    assert without_times(created) == expected
    assert created["next_fire_time"].startswith("2030-01-01T01:30:")  # jittered by up to 30 s
    job = Job.objects.get(pk="cli.job")
    assert (job.state, job.jitter, job.data) == ("paused", 30, {"to": ["ops@example.com"], "dry_run": False})


def test_create_an_interval_job_with_the_short_cron_option_absent(db):
    text = scheduler("create", "every90", "--handler", "tests.echo", *options(INTERVAL))
    assert text.startswith("Saved job every90.") and "Every 90 minutes" in text
    job = Job.objects.get()
    assert (job.interval, job.repeat_count, job.cron_expression) == (5400, 7, "")


def test_update_changes_only_the_fields_given_like_patch(api, db):
    scheduler("create", "cli.job", *options(EVERY_FIELD))
    api.post(f"{BASE}/jobs/api.job", body(EVERY_FIELD), format="json")
    before = Job.objects.get(pk="cli.job")
    changed = scheduler_json("update", "cli.job", "--description", "v2", "--state", "Planned")
    patched = api.patch(
        f"{BASE}/jobs/api.job", {"description": "v2", "state": "Planned"}, format="json"
    ).json()
    assert without_times(changed) == {
        **without_times(patched),
        "id": "cli.job",
        "url": f"http://testserver{BASE}/jobs/cli.job",
        "executions_url": f"http://testserver{BASE}/jobs/cli.job/executions",
    }
    after = Job.objects.get(pk="cli.job")
    assert (after.description, after.state, after.cron_expression) == (
        "v2",
        "planned",
        before.cron_expression,
    )


def test_update_switches_to_an_interval_and_null_resets_a_field(db):
    scheduler("create", "cli.job", *options(EVERY_FIELD))
    scheduler("update", "cli.job", "--cron", "", "--interval", "60", "--jitter", "null", "--data", "null")
    job = Job.objects.get()
    assert (job.cron_expression, job.interval, job.jitter, job.data) == ("", 60, 0, {})


def test_calendars_are_a_list_of_ids(db):
    from django_scheduler_api.calendars import save_calendar

    save_calendar("holidays", {"dates": ["2030-01-02"]})
    save_calendar("nights", {"cron_expressions": ["* * 0-6 ? * *"]})
    scheduler(
        "create", "cli.job", "--handler", "tests.echo", "--cron", "0 0 12 * * ?", "--calendars", "holidays"
    )
    scheduler("update", "cli.job", "--calendars", "nights, holidays")
    assert Job.objects.get().calendars == ["nights", "holidays"]
    scheduler("update", "cli.job", "--calendars", "")
    assert Job.objects.get().calendars == []
    with pytest.raises(CommandError, match=r"^calendars: Unknown calendar 'ghost'\."):
        scheduler("update", "cli.job", "--calendars", "ghost")


def test_create_replace_replaces_the_whole_job(db):
    scheduler("create", "cli.job", *options(EVERY_FIELD))
    scheduler("create", "cli.job", "--replace", "--handler", "tests.sleep")
    job = Job.objects.get()
    assert (job.handler, job.description, job.state, job.cron_expression) == (
        "tests.sleep",
        "",
        "planned",
        "",
    )


def raw_body(fields: dict[str, str]) -> str:
    """The API's JSON body with the same values: text as sent (DRF reads numbers in strings too),
    ``data`` as written."""
    pairs = [f"{json.dumps(k)}: {v if k == 'data' else json.dumps(v)}" for k, v in fields.items()]
    return "{" + ", ".join(pairs) + "}"


def api_refusal(api, method: str, path: str, fields: dict[str, str]) -> str:
    response = api.generic(method, f"{BASE}/{path}", raw_body(fields), content_type="application/json")
    assert response.status_code in (400, 404), response.json()
    answer = response.json()
    return answer["detail"] if "detail" in answer else error_message(answer)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"handler": "nope"}, id="unknown-handler"),
        pytest.param({"cron_expression": "0 0 25 * * ?"}, id="bad-cron"),
        pytest.param({"cron_expression": "0 0 12 * * ?", "interval": "10"}, id="cron-and-interval"),
        pytest.param({"cron_expression": "", "interval": "0"}, id="interval-zero"),
        pytest.param(
            {"cron_expression": "", "interval": "10", "repeat_count": "3"}, id="count-without-anchor"
        ),
        pytest.param({"timezone": "Mars/Base"}, id="zone"),
        pytest.param({"start_time": "2030-01-02T00:00Z", "end_time": "2030-01-01T00:00Z"}, id="window"),
        pytest.param({"start_time": "tomorrow"}, id="instant"),
        pytest.param({"state": "sleeping"}, id="state"),
        pytest.param({"misfire_policy": "later"}, id="policy"),
        pytest.param({"jitter": "-1"}, id="jitter"),
        pytest.param({"data": "[1, 2]"}, id="data-not-object"),
        pytest.param({"data": '{"x": NaN}'}, id="data-nan"),
    ],
)
def test_refusals_carry_the_api_words_and_change_nothing(api, db, unchanged, fields):
    scheduler("create", "kept", "--handler", "tests.echo", "--cron", "0 0 12 * * ?")
    guard = unchanged()
    new = {"handler": "tests.echo", **fields}
    with pytest.raises(CommandError) as created:
        scheduler("create", "new.job", *options(new))
    with pytest.raises(CommandError) as updated:
        scheduler("update", "kept", *options(fields))
    guard.check()
    assert str(created.value) == api_refusal(api, "POST", "jobs/new.job", new)
    assert str(updated.value) == api_refusal(api, "PATCH", "jobs/kept", fields)
    guard.check()


def test_a_nul_in_text_is_refused_by_the_field_rule(db, unchanged):
    """The API's body parser refuses it before the fields are read; here the field's rule does."""
    guard = unchanged()
    with pytest.raises(CommandError, match=r"^description: Null characters are not allowed\.$"):
        scheduler("create", "new.job", "--handler", "tests.echo", "--description", "a\x00b")
    guard.check()


def test_create_without_a_handler_is_refused_as_the_api_does(api, db, unchanged):
    guard = unchanged()
    with pytest.raises(CommandError) as refused:
        scheduler("create", "new.job", "--cron", "0 0 12 * * ?")
    assert str(refused.value) == "handler: This field is required."
    assert str(refused.value) == api_refusal(api, "POST", "jobs/new.job", {"cron_expression": "0 0 12 * * ?"})
    guard.check()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("update", "ghost", "--description", "x"), "No job with id 'ghost'."),
        (("create", "bad id!", "--handler", "tests.echo"), "id: Use 1-200 characters"),
        (("create", "kept", "--handler", "tests.echo"), "Job 'kept' exists: `scheduler update` changes"),
    ],
)
def test_unknown_existing_and_malformed_ids(db, unchanged, args, message):
    scheduler("create", "kept", "--handler", "tests.echo")
    guard = unchanged()
    with pytest.raises(CommandError) as refused:
        scheduler(*args)
    assert str(refused.value).startswith(message)
    guard.check()


def test_a_refusal_exits_1_with_the_message_on_stderr(transactional_db):
    command = [sys.executable, "-m", "django", "scheduler", "create", "x", "--handler", "tests.echo"]
    result = subprocess.run(
        [*command, "--cron", "0 0 25 * * ?"], env=child_env(), cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "CommandError: cron_expression: hours: 25 is out of range 0-23" in result.stderr
    assert not Job.objects.exists()
    result = subprocess.run(command, env=child_env(), cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert Job.objects.get().handler == "tests.echo"
