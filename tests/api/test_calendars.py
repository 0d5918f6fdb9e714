"""``/scheduler/calendars`` and the jobs that name calendars (docs/api.rst, "Calendars").

Every refusal is checked to leave the database as it was (``unchanged``), on whichever database
the suite runs (``SCHEDULER_TEST_DB``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from django_scheduler_api.models import Calendar, Job
from tests.api.conftest import BASE

pytestmark = pytest.mark.django_db

HOLIDAYS = {
    "description": "Public holidays",
    "dates": ["2026-12-25", "2026-12-24"],
    "date_ranges": [{"start": "2026-12-28", "end": "2026-12-31"}],
    "yearly_dates": ["05-01", "01-01"],
    "cron_expressions": ["* * 0-6 ? * *"],
}
CALENDAR_KEYS = [
    "id", "url", "description", "dates", "date_ranges", "yearly_dates", "cron_expressions", "created_at",
    "updated_at",
]  # fmt: skip


def post_calendar(api, calendar_id="holidays-de", **body):
    return api.post(f"{BASE}/calendars/{calendar_id}", body, format="json")


def post_job(api, job_id="reports.daily", **body):
    body.setdefault("handler", "tests.echo")
    return api.post(f"{BASE}/jobs/{job_id}", body, format="json")


def test_a_calendar_is_added_read_listed_changed_and_deleted(api):
    response = post_calendar(api, **HOLIDAYS)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert list(body) == CALENDAR_KEYS
    assert body["url"] == "http://testserver/scheduler/calendars/holidays-de"
    assert body["dates"] == ["2026-12-24", "2026-12-25"]  # sorted, each once
    assert body["yearly_dates"] == ["01-01", "05-01"]
    assert api.get(f"{BASE}/calendars/holidays-de").json() == body
    listed = api.get(f"{BASE}/calendars")
    assert [c["id"] for c in listed.json()] == ["holidays-de"] and listed["X-Total-Count"] == "1"
    patched = api.patch(f"{BASE}/calendars/holidays-de", {"dates": ["2027-01-06"]}, format="json").json()
    assert patched["dates"] == ["2027-01-06"] and patched["cron_expressions"] == ["* * 0-6 ? * *"]
    replaced = post_calendar(api, dates=["2027-01-01"]).json()  # a POST replaces it whole
    assert replaced["cron_expressions"] == [] and replaced["description"] == ""
    assert api.delete(f"{BASE}/calendars/holidays-de").json() == {"id": "holidays-de", "deleted": True}
    assert not Calendar.objects.exists()
    assert api.get(f"{BASE}/calendars/holidays-de").status_code == 404


def test_a_calendar_fetched_can_be_posted_back_as_it_is(api):
    body = post_calendar(api, **HOLIDAYS).json()
    again = post_calendar(api, **body)
    assert again.status_code == 200, again.json()
    assert {k: v for k, v in again.json().items() if k != "updated_at"} == {
        k: v for k, v in body.items() if k != "updated_at"
    }


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"dates": ["2026-13-01"]}, "dates", "is not a date"),
        ({"dates": ["2026-1-1"]}, "dates", "YYYY-MM-DD"),
        ({"dates": "2026-12-25"}, "dates", "list"),
        (
            {"date_ranges": [{"start": "2026-12-31", "end": "2026-12-24"}]},
            "date_ranges",
            "ends before it starts",
        ),
        ({"date_ranges": [{"start": "2026-12-24"}]}, "date_ranges", "is not a range"),
        (
            {"date_ranges": [{"start": "2026-12-24", "end": "2026-12-25", "x": 1}]},
            "date_ranges",
            "is not a range",
        ),
        ({"yearly_dates": ["02-30"]}, "yearly_dates", "not a day of the year"),
        ({"yearly_dates": ["2-3"]}, "yearly_dates", "MM-DD"),
        ({"cron_expressions": ["* * 25 ? * *"]}, "cron_expressions", "hours"),
        ({"cron_expressions": [""]}, "cron_expressions", "not a cron expression"),
        ({"description": 5}, "description", "Must be a string"),
        ({"holidays": []}, "holidays", "Unknown field"),
        ({"id": "other"}, "id", "differs from the URL"),
    ],
)
def test_a_bad_calendar_is_refused_with_400_and_nothing_changes(api, unchanged, body, field, words):
    post_calendar(api, "kept", dates=["2026-01-01"])
    guard = unchanged()
    for calendar_id in ("new-one", "kept"):
        response = post_calendar(api, calendar_id, **body)
        assert response.status_code == 400, response.json()
        assert words in " ".join(response.json()[field])
    response = api.patch(f"{BASE}/calendars/kept", body, format="json")
    assert response.status_code == 400 and field in response.json()
    guard.check()


def test_malformed_and_unknown_calendar_ids(api, unchanged):
    guard = unchanged()
    assert api.get(f"{BASE}/calendars/..").status_code == 400
    assert post_calendar(api, "a b").status_code == 400
    assert api.patch(f"{BASE}/calendars/nope", {"dates": []}, format="json").status_code == 404
    response = api.delete(f"{BASE}/calendars/nope")
    assert response.status_code == 404 and response.json() == {"detail": "No calendar with id 'nope'."}
    assert api.post(f"{BASE}/calendars/x", [1], format="json").status_code == 400
    guard.check()


def test_a_job_without_calendars_keeps_its_body_and_has_an_empty_list(api):
    body = post_job(api, cron_expression="0 0 9 ? * MON-FRI").json()
    assert body["calendars"] == []
    nulls = post_job(api, "dotnet", CronExpression="0 0 9 ? * MON-FRI", Calendars=None).json()
    assert nulls["calendars"] == []


def test_a_job_skips_what_its_calendars_exclude(api):
    post_calendar(api, "christmas", dates=["2030-12-25"])
    post_calendar(api, "nights", cron_expressions=["* * 0-8 ? * *"])
    body = post_job(
        api,
        cron_expression="0 0 * * * ?",
        timezone="Europe/Berlin",
        start_time="2030-12-24T00:00:00Z",
        calendars=["christmas", "nights", "christmas"],
    ).json()
    assert body["calendars"] == ["christmas", "nights"]
    # 24 Dec 2030 09:00 in Berlin (CET) is the first hour neither calendar excludes.
    assert body["next_fire_time"] == "2030-12-24T08:00:00Z"
    preview = api.get(
        f"{BASE}/preview",
        {
            "cron_expression": "0 0 * * * ?",
            "timezone": "Europe/Berlin",
            "after": "2030-12-24T21:30:00Z",
            "count": 3,
            "calendar": "christmas,nights",
        },
    ).json()
    # 22:00 and 23:00 on the 24th, then the 26th at 09:00 (the 25th and the nights excluded).
    assert preview["fire_times"] == ["2030-12-24T22:00:00Z", "2030-12-26T08:00:00Z", "2030-12-26T09:00:00Z"]
    assert preview["calendars"] == ["christmas", "nights"]


def test_changing_a_calendar_moves_the_next_fire_of_its_jobs(api):
    post_calendar(api, "closed", dates=[])
    post_job(api, "a", cron_expression="0 0 12 1 1 ? 2031", calendars=["closed"])
    post_job(api, "b", cron_expression="0 0 12 1 1 ? 2031-2032")
    assert Job.objects.get(pk="a").next_fire_time == datetime(2031, 1, 1, 12, tzinfo=UTC)
    response = api.patch(f"{BASE}/calendars/closed", {"yearly_dates": ["01-01"]}, format="json")
    assert response.status_code == 200, response.json()
    assert Job.objects.get(pk="a").next_fire_time is None  # its only fire is excluded
    assert Job.objects.get(pk="b").next_fire_time == datetime(2031, 1, 1, 12, tzinfo=UTC)  # not its calendar
    post_calendar(api, "closed", dates=["2031-01-02"])
    assert Job.objects.get(pk="a").next_fire_time == datetime(2031, 1, 1, 12, tzinfo=UTC)


def test_a_calendar_change_that_leaves_a_job_without_any_fire_is_refused(api, unchanged):
    post_calendar(api, "nights", cron_expressions=["* * 0-6 ? * *"])
    post_job(api, "every.second", interval=1, calendars=["nights"])
    guard = unchanged()
    response = api.patch(f"{BASE}/calendars/nights", {"cron_expressions": ["* * * ? * *"]}, format="json")
    assert response.status_code == 400, response.json()
    assert "every.second" in response.json()["non_field_errors"][0]
    assert "Nothing was saved" in response.json()["non_field_errors"][0]
    guard.check()


def test_a_job_naming_an_unknown_calendar_or_one_that_excludes_everything_is_refused(api, unchanged):
    post_calendar(api, "always", cron_expressions=["* * * ? * *"])
    post_job(api, "kept", cron_expression="0 0 9 * * ?")
    guard = unchanged()
    unknown = post_job(api, "new", calendars=["nope", "always"])
    assert unknown.status_code == 400
    assert unknown.json()["calendars"] == ["Unknown calendar 'nope'. Calendars: always."]
    for job_id in ("new", "kept"):
        response = post_job(api, job_id, cron_expression="0 0 9 * * ?", calendars=["always"])
        assert response.status_code == 400
        assert "'always' exclude every fire" in response.json()["calendars"][0]
    patch = api.patch(f"{BASE}/jobs/kept", {"calendars": ["always"]}, format="json")
    assert patch.status_code == 400 and "exclude every fire" in patch.json()["calendars"][0]
    assert post_job(api, "new", calendars="always").status_code == 400
    assert post_job(api, "new", calendars=[{"id": "always"}]).status_code == 400
    guard.check()


def test_deleting_a_calendar_that_jobs_name_is_refused_with_409_listing_them(api, unchanged):
    post_calendar(api, "holidays", dates=["2030-12-25"])
    post_job(api, "b.job", cron_expression="0 0 9 * * ?", calendars=["holidays"])
    post_job(api, "a.job", cron_expression="0 0 9 * * ?", calendars=["holidays"])
    post_job(api, "free", cron_expression="0 0 9 * * ?")
    guard = unchanged()
    response = api.delete(f"{BASE}/calendars/holidays")
    assert response.status_code == 409
    assert response.json()["jobs"] == ["a.job", "b.job"]
    assert "Remove it from their calendars first" in response.json()["detail"]
    guard.check()
    api.patch(f"{BASE}/jobs/a.job", {"calendars": []}, format="json")
    api.delete(f"{BASE}/jobs/b.job")
    assert api.delete(f"{BASE}/calendars/holidays").status_code == 200


def test_preview_refuses_unknown_calendars_and_says_when_one_excludes_everything(api, unchanged):
    post_calendar(api, "always", cron_expressions=["* * * ? * *"])
    guard = unchanged()
    query = {"cron_expression": "0 0 9 * * ?", "count": 2}
    unknown = api.get(f"{BASE}/preview", {**query, "calendar": "nope"})
    assert unknown.status_code == 400 and "Unknown calendar 'nope'" in unknown.json()["calendar"][0]
    assert api.get(f"{BASE}/preview", {**query, "calendar": ","}).status_code == 400
    everything = api.get(f"{BASE}/preview", {**query, "calendar": "always"})
    assert everything.status_code == 400
    assert "'always' exclude every fire" in everything.json()["detail"]
    guard.check()
