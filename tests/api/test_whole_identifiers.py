"""Identifiers match as whole strings (issue 21, D1).

``JOB_ID_PATTERN`` ends in ``$``, which in Python also matches before a final newline, and Django's
``RegexValidator`` searches: ``POST /jobs/ghost%0A`` was accepted, and the job could then be neither
read, paused nor deleted (lookups used ``fullmatch``) while it kept firing. Every id-like field is
fed here a trailing line or Unicode separator: each is a JSON 4xx and changes nothing. A row stored
before the fix (written here with the ORM) stays listed, shown and deletable, the dashboard keeps
working, and ``check`` names it.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.contrib.admin.utils import quote as admin_quote
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from django_scheduler_api import checks, services
from django_scheduler_api.models import Calendar, Job
from tests.api.conftest import BASE
from tests.factories import make_due_job, make_execution, make_job
from tests.support import scheduler

# What Python's ``$``, ``str.strip`` or ``str.splitlines`` treat as an end of line or as space.
SEPARATORS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
# Spaces and tabs too, except in ``ids`` lists, where they are trimmed around each id (documented).
SEPARATORS_AND_SPACES = [*SEPARATORS, " ", "\t", "\u00a0", "\u3000"]


@pytest.fixture
def existing(db):
    """A job ``a`` and a calendar ``cal``: the ids the separators are appended to."""
    Calendar.objects.create(id="cal")
    return make_job("a", cron_expression="0 0 12 * * ?")


def assert_json_4xx(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "jobs/{}", {"handler": "tests.echo"}),
        ("get", "jobs/{}", None),
        ("patch", "jobs/{}", {"description": "x"}),
        ("delete", "jobs/{}", None),
        ("get", "jobs/{}/executions", None),
        ("post", "jobs/{}/backfill", {"start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"}),
        ("post", "calendars/{}", {}),
        ("get", "calendars/{}", None),
        ("delete", "calendars/{}", None),
    ],
)
def test_an_id_in_the_path_with_a_separator_is_400(api, existing, unchanged, method, path, body):
    guard = unchanged()
    for separator in SEPARATORS_AND_SPACES:
        for name in ("a", "cal", "ghost"):
            url = f"{BASE}/{path.format(quote(name + separator))}"
            answer = assert_json_4xx(getattr(api, method)(url, body, format="json"))
            assert "id" in answer, (separator, answer)
    guard.check()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("jobs/a", {"handler": "tests.echo", "id": "a{}"}, "id"),
        ("jobs/a", {"handler": "tests.echo", "group": "g{}"}, "group"),
        ("jobs/a", {"handler": "tests.echo{}"}, "handler"),
        ("jobs/a", {"handler": "tests.echo", "calendars": ["cal{}"]}, "calendars"),
        ("calendars/cal", {"id": "cal{}"}, "id"),
    ],
)
def test_an_id_in_a_body_with_a_separator_is_400(api, existing, unchanged, path, body, field):
    guard = unchanged()
    for separator in SEPARATORS_AND_SPACES:
        sent = {
            k: [v[0].format(separator)] if isinstance(v, list) else v.format(separator)
            for k, v in body.items()
        }
        for method in ("post", "patch"):
            answer = assert_json_4xx(getattr(api, method)(f"{BASE}/{path}", sent, format="json"))
            assert field in answer, (separator, answer)
    guard.check()


@pytest.mark.parametrize(
    ("path", "query", "param"),
    [
        ("jobs", {"group": "default{}"}, "group"),
        ("jobs", {"handler": "tests.echo{}"}, "handler"),
        ("executions", {"job": "a{}"}, "job"),
        ("preview", {"cron_expression": "0 0 12 * * ?", "jitter": "1", "job": "a{}"}, "job"),
        ("preview", {"cron_expression": "0 0 12 * * ?", "calendar": "cal{}"}, "calendar"),
    ],
)
def test_an_id_in_a_query_filter_with_a_separator_is_400(api, existing, path, query, param):
    # ``calendar`` is a list like ``ids``: spaces and tabs around each id are trimmed
    for separator in SEPARATORS if param == "calendar" else SEPARATORS_AND_SPACES:
        sent = {key: value.format(separator) for key, value in query.items()}
        answer = assert_json_4xx(api.get(f"{BASE}/{path}", sent))
        assert param in answer, (separator, answer)


@pytest.mark.parametrize("action", ["pause", "resume", "trigger"])
def test_an_id_in_ids_with_a_separator_is_unknown(api, existing, unchanged, action):
    """``ids`` trims spaces and tabs around each id, nothing else: ``a\\n`` is no job's id."""
    guard = unchanged()
    for separator in SEPARATORS:
        answer = assert_json_4xx(api.post(f"{BASE}/{action}?ids={quote('a' + separator)}"), 404)
        assert answer["unknown_ids"] == ["a" + separator]
    guard.check()


def test_spaces_around_ids_are_still_trimmed(api, existing):
    assert api.post(f"{BASE}/pause?ids=%20a%09,").json() == {"paused": ["a"]}


def test_a_handler_name_with_a_separator_cannot_be_registered():
    from django_scheduler_api.registry import HandlerRegistry

    for separator in SEPARATORS_AND_SPACES:
        with pytest.raises(ValueError, match="whitespace"):
            HandlerRegistry().register("tests.echo" + separator, print)


# -- rows stored before the fix ---------------------------------------------------------------------


@pytest.fixture
def ghost(db):
    """A job stored under ``ghost\\n`` (as the unfixed API stored it) that fires within the hour and
    has run, a calendar ``cal\\n`` and a job whose group has a newline."""
    job = make_due_job("ghost\n", due=timezone.now() + timedelta(minutes=1), cron="0 * * * * ?")
    make_execution(job, minutes_ago=2)
    Calendar.objects.create(id="cal\n")
    make_due_job("grouped", due=None, group="g\n")
    return job


def test_a_stored_ghost_is_listed_by_the_api_and_the_cli(api, ghost):
    listed = api.get(f"{BASE}/jobs").json()
    assert ["ghost\n", "grouped"] == [job["id"] for job in listed]
    assert listed[0]["url"].endswith("/jobs/ghost%0A")
    assert "cal\n" in [calendar["id"] for calendar in api.get(f"{BASE}/calendars").json()]
    assert "ghost" in scheduler("list")


def test_a_stored_ghost_is_shown_and_deleted_by_the_cli(db, ghost):
    assert "ghost" in scheduler("show", "ghost\n")
    scheduler("delete", "ghost\n")
    assert not Job.objects.filter(pk="ghost\n").exists()


def test_the_admin_shows_and_deletes_a_stored_ghost_and_the_dashboard_works(admin_client, ghost):
    dashboard = admin_client.get(reverse("admin:django_scheduler_api_dashboard_changelist"))
    assert dashboard.status_code == 200
    change = reverse("admin:django_scheduler_api_job_change", args=[admin_quote("ghost\n")])
    assert change in dashboard.content.decode()
    assert admin_client.get(reverse("admin:django_scheduler_api_job_changelist")).status_code == 200
    assert admin_client.get(change).status_code == 200
    delete = reverse("admin:django_scheduler_api_job_delete", args=[admin_quote("ghost\n")])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not Job.objects.filter(pk="ghost\n").exists()


def test_check_warns_of_stored_ids_the_rule_refuses(ghost):
    found = checks.check_stored_ids(databases=["default"])
    assert [warning.id for warning in found] == ["django_scheduler_api.W006"] * 3
    text = " ".join(warning.msg for warning in found)
    assert all(repr(value) in text for value in ("ghost\n", "cal\n", "g\n"))
    assert checks.check_stored_ids() == []  # a database check: only with --database
    services.delete_job("ghost\n")
    Calendar.objects.filter(pk="cal\n").delete()
    Job.objects.filter(pk="grouped").update(group="g")
    assert checks.check_stored_ids(databases=["default"]) == []
    call_command("check", "--database", "default")  # passes without warnings to print
