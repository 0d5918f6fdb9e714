"""Jobs declared in code: SCHEDULER_API["JOBS"] and @handler(schedule=...), upserted at start."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from django_scheduler_api import calendars as services_calendars
from django_scheduler_api.declared import sync_declared_jobs
from django_scheduler_api.models import Job
from django_scheduler_api.registry import registry
from django_scheduler_api.validation import error_message
from tests.api.test_dotnet_bodies import PASCAL_CASE
from tests.scheduling.test_intervals import AT_LEAST_1, BOTH
from tests.scheduling.test_retries import RETRY_REFUSALS

pytestmark = pytest.mark.django_db


def without_instants(text: str) -> str:
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<instant>", text)


HOURLY = {"id": "reports.hourly", "handler": "tests.echo", "cron_expression": "0 0 * * * ?"}


@pytest.fixture
def declare(settings):
    def declare(*jobs):
        settings.SCHEDULER_API = {**settings.SCHEDULER_API, "JOBS": list(jobs)}

    return declare


@pytest.fixture
def scheduled_handler():
    """A handler registered with a schedule, as ``@handler("...", schedule=...)`` does."""
    registry.register("tests.declared", lambda ctx: None, cron_expression="0 30 * * * ?", data={"a": 1})
    yield registry.get("tests.declared")
    registry.unregister("tests.declared")


def test_a_declared_job_is_created_with_source_code_and_a_next_fire(declare):
    declare({**HOURLY, "timezone": "Europe/Berlin", "data": {"x": 1}})
    report = sync_declared_jobs()
    assert report.created == ["reports.hourly"]
    job = Job.objects.get()
    assert (job.source, job.state, job.group, job.name) == ("code", "planned", "reports", "hourly")
    assert job.timezone == "Europe/Berlin" and job.data == {"x": 1}
    assert job.next_fire_time is not None and job.next_fire_time.minute == 0


def test_a_handler_with_a_schedule_declares_a_job_named_after_it(scheduled_handler):
    assert sync_declared_jobs().created == ["tests.declared"]
    job = Job.objects.get(pk="tests.declared")
    assert (job.handler, job.cron_expression, job.data) == ("tests.declared", "0 30 * * * ?", {"a": 1})


def test_the_definition_in_code_wins_but_a_paused_state_is_kept(declare):
    declare(HOURLY)
    sync_declared_jobs()
    Job.objects.update(state=Job.State.PAUSED, description="edited")
    declare({**HOURLY, "cron_expression": "0 15 * * * ?"})
    assert sync_declared_jobs().updated == ["reports.hourly"]
    job = Job.objects.get()
    assert job.state == Job.State.PAUSED
    assert job.cron_expression == "0 15 * * * ?" and job.next_fire_time.minute == 15
    assert job.description == ""  # the declaration's default


def test_an_unchanged_declaration_keeps_the_row_and_its_next_fire(declare):
    declare(HOURLY)
    sync_declared_jobs()
    moved = datetime(2030, 1, 1, tzinfo=UTC)
    Job.objects.update(next_fire_time=moved)
    assert sync_declared_jobs().unchanged == ["reports.hourly"]
    assert Job.objects.get().next_fire_time == moved


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({**HOURLY, "handler": "nobody"}, "Unknown handler 'nobody'"),
        ({**HOURLY, "cron_expression": "0 0 * * *"}, ""),
        ({**HOURLY, "timezone": "Mars/Base"}, "Unknown time zone"),
        ({**HOURLY, "colour": "red"}, "colour: Unknown field. Writable fields:"),
        ({**HOURLY, "misfire_policy": "sometimes"}, 'misfire_policy: "sometimes" is not a valid choice.'),
        ({"handler": "tests.echo"}, "id: This field is required."),
        (
            {**HOURLY, "start_time": "2030-01-02T00:00:00Z", "end_time": "2030-01-01T00:00:00Z"},
            "after start_time",
        ),
        ({**HOURLY, "id": "bad id"}, "Use 1-200 characters"),
    ],
)
def test_an_invalid_declaration_is_reported_and_the_others_still_load(declare, job, message):
    declare(job, {**HOURLY, "id": "reports.other"})
    report = sync_declared_jobs()
    assert report.created == ["reports.other"]
    assert message in next(iter(report.invalid.values()))
    assert list(Job.objects.values_list("id", flat=True)) == ["reports.other"]


def test_a_declaration_is_read_as_the_api_reads_a_body(declare):
    """The .NET spellings the API accepts (enum names, numbers, keys) are accepted in code too."""
    declare({**HOURLY, "state": "Planned", "misfirePolicy": "FireAndProceed", "overlap_policy": 1})
    assert sync_declared_jobs().created == ["reports.hourly"]
    job = Job.objects.get()
    assert (job.state, job.misfire_policy, job.overlap_policy) == ("planned", "fire_and_proceed", "skip")


@pytest.mark.parametrize(
    "fields",
    [
        {"state": "sleeping"},
        {"timezone": "Mars/Base"},
        {"cron_expression": "0 0 * * *"},
        {"start_time": "soon"},
        {"data": [1, 2]},
        {"handler": "nobody"},
        {"calendars": ["no-such-calendar"]},
        {"calendars": ["always"]},
    ],
)
def test_a_declaration_is_refused_with_the_api_s_message(declare, fields):
    """Every refusal names the same field with the same words as the API's 400 for that body."""
    services_calendars.save_calendar("always", {"cron_expressions": ["* * * ? * *"]})
    body = {**HOURLY, **fields}
    answer = APIClient().post("/scheduler/jobs/reports.hourly", body, format="json")
    assert answer.status_code == 400
    declare(body)
    report = sync_declared_jobs()
    # The same words; an instant in them (the moment each check searched from) may differ by a second.
    assert {k: without_instants(v) for k, v in report.invalid.items()} == {
        "reports.hourly": without_instants(error_message(answer.json()))
    }
    assert not Job.objects.exists()


# The API's refusals of a retry policy (all of them) and of an interval, as a declaration's report
# words them: a job with no cron expression, so that an interval alone is a schedule.
REFUSED_WITH_THE_SAME_WORDS = [
    *(pytest.param(param.values[0], param.values[2], id=f"retry-{param.id}") for param in RETRY_REFUSALS),
    pytest.param({"interval": 0}, AT_LEAST_1, id="interval-zero"),
    pytest.param({"interval": "ten"}, "A valid integer is required.", id="interval-not-a-number"),
    pytest.param({"interval": 10, "cron_expression": "0 * * * * ?"}, BOTH, id="interval-and-cron"),
    pytest.param({"interval": 10, "repeat_count": 2}, "repeat_count needs interval_anchor or start_time",
                 id="interval-count-without-anchor"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "message"), REFUSED_WITH_THE_SAME_WORDS)
def test_a_declared_job_is_refused_with_the_same_words(declare, fields, message):
    declare({"id": "bad", "handler": "tests.echo", **fields})
    report = sync_declared_jobs()
    assert message in report.invalid["bad"]
    assert not Job.objects.exists()


def test_times_may_be_iso_strings_and_naive_means_utc(declare):
    declare({**HOURLY, "start_time": "2030-01-01T00:00:00", "end_time": "2030-01-01T05:00:00+01:00"})
    sync_declared_jobs()
    job = Job.objects.get()
    assert job.start_time == datetime(2030, 1, 1, tzinfo=UTC)
    assert job.next_fire_time == datetime(2030, 1, 1, tzinfo=UTC)
    assert job.end_time == datetime(2030, 1, 1, 4, tzinfo=UTC)


def test_a_declaration_in_the_dotnet_shape_loads_as_the_api_reads_it(declare):
    """The same body Newtonsoft.Json writes (PascalCase, nulls, enum numbers, 7 fractional digits),
    declared in settings, e.g. read from a .NET service's JSON configuration."""
    declare(json.loads(PASCAL_CASE))
    report = sync_declared_jobs()
    assert report.created == ["reports.daily"], report.invalid
    job = Job.objects.get()
    assert (job.handler, job.cron_expression, job.state) == ("tests.echo", "0 15 10 ? * 2-6", "planned")
    assert (job.group, job.name, job.description, job.data) == ("reports", "daily", "", {})
    assert job.misfire_policy == "fire_and_proceed" and job.end_time is None
    assert job.start_time == datetime(2030, 1, 1, 7, 15, 0, 123456, tzinfo=UTC)


def test_a_declared_job_names_calendars_and_skips_what_they_exclude(declare):
    services_calendars.save_calendar("new-year", {"yearly_dates": ["01-01"]})
    declare({**HOURLY, "cron_expression": "0 0 12 1,2 1 ? 2031", "calendars": ["new-year"]})
    assert sync_declared_jobs().created == ["reports.hourly"]
    job = Job.objects.get()
    assert job.calendars == ["new-year"]
    assert job.next_fire_time == datetime(2031, 1, 2, 12, tzinfo=UTC)
    declare({**HOURLY, "cron_expression": "0 0 12 1,2 1 ? 2031"})  # the calendar taken out
    assert sync_declared_jobs().updated == ["reports.hourly"]
    assert Job.objects.get().next_fire_time == datetime(2031, 1, 1, 12, tzinfo=UTC)
