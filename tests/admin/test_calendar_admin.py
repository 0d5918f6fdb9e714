"""The calendar admin and the job form's calendars: the API's rules and words, the same operations
(``calendars``), and a refusal leaves the database as it was."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from django_scheduler_api import calendars
from django_scheduler_api.models import Calendar, Job
from tests.admin.conftest import form_data, make_job

ADD = reverse("admin:django_scheduler_api_calendar_add")
JOB_ADD = reverse("admin:django_scheduler_api_job_add")

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def change_url(calendar_id: str) -> str:
    return reverse("admin:django_scheduler_api_calendar_change", args=[calendar_id])


def calendar_form(**overrides: str) -> dict[str, str]:
    data = {
        "id": "holidays",
        "description": "",
        "dates": "",
        "date_ranges": "",
        "yearly_dates": "",
        "cron_expressions": "",
    }
    return {**data, **overrides}


def rows() -> tuple[list[dict], list[dict]]:
    return list(Calendar.objects.order_by("id").values()), list(Job.objects.order_by("id").values())


def test_a_calendar_is_added_with_one_entry_a_line_and_stored_as_the_api_stores_it(admin_client):
    response = admin_client.post(
        ADD,
        calendar_form(
            dates="2026-12-26\n2026-12-25\n\n",
            date_ranges="2026-12-27 2026-12-31\n2027-01-02 .. 2027-01-03",
            yearly_dates="05-01\n01-01",
            cron_expressions="* * 0-6 ? * *",
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    calendar = Calendar.objects.get()
    assert calendar.dates == ["2026-12-25", "2026-12-26"]
    assert calendar.date_ranges == [
        {"start": "2026-12-27", "end": "2026-12-31"},
        {"start": "2027-01-02", "end": "2027-01-03"},
    ]
    assert calendar.yearly_dates == ["01-01", "05-01"]
    html = admin_client.get(change_url("holidays")).content.decode()
    assert "2026-12-27 2026-12-31" in html and "* * 0-6 ? * *" in html


@pytest.mark.parametrize(
    ("field", "text", "body"),
    [
        ("dates", "2026-02-30", {"dates": ["2026-02-30"]}),
        (
            "date_ranges",
            "2026-12-31 2026-12-24",
            {"date_ranges": [{"start": "2026-12-31", "end": "2026-12-24"}]},
        ),
        ("yearly_dates", "02-30", {"yearly_dates": ["02-30"]}),
        ("cron_expressions", "* * 25 ? * *", {"cron_expressions": ["* * 25 ? * *"]}),
    ],
)
def test_the_form_refuses_what_the_api_refuses_with_the_same_words(
    admin_client, api_client, field, text, body
):
    calendars.save_calendar("kept", {"dates": ["2026-01-01"]})
    before = rows()
    response = admin_client.post(ADD, calendar_form(**{field: text}))
    assert response.status_code == 200
    answer = api_client.post("/scheduler/calendars/holidays", body, format="json")
    assert answer.status_code == 400
    assert response.context["adminform"].form.errors[field] == answer.json()[field]
    assert rows() == before


def test_the_job_form_names_calendars_and_refuses_unknown_ones_or_ones_that_exclude_everything(admin_client):
    calendars.save_calendar("new-year", {"yearly_dates": ["01-01"]})
    calendars.save_calendar("always", {"cron_expressions": ["* * * ? * *"]})
    before = rows()
    unknown = admin_client.post(JOB_ADD, form_data(calendars=["gone"]))
    assert unknown.context["adminform"].form.errors["calendars"] == [
        "Unknown calendar 'gone'. Calendars: always, new-year."
    ]
    everything = admin_client.post(JOB_ADD, form_data(calendars=["always"]))
    assert "'always' exclude every fire" in everything.context["adminform"].form.errors["calendars"][0]
    assert rows() == before
    saved = admin_client.post(
        JOB_ADD, form_data(cron_expression="0 0 12 1,2 1 ? 2031", calendars=["new-year"])
    )
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    job = Job.objects.get()
    assert job.calendars == ["new-year"]
    assert job.next_fire_time == datetime(2031, 1, 2, 12, tzinfo=UTC)


def test_a_change_that_leaves_a_job_without_a_fire_is_refused_on_the_form(admin_client):
    calendars.save_calendar("nights", {"cron_expressions": ["* * 0-6 ? * *"]})
    make_job("every.second", cron_expression="", interval=1, calendars=["nights"])
    before = rows()
    response = admin_client.post(change_url("nights"), calendar_form(cron_expressions="* * * ? * *"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert "every.second" in errors[0] and "Nothing was saved" in errors[0]
    assert rows() == before


def test_a_calendar_that_jobs_name_cannot_be_deleted(admin_client):
    calendars.save_calendar("holidays", {"dates": ["2030-12-25"]})
    make_job("uses.it", calendars=["holidays"])
    before = rows()
    delete = reverse("admin:django_scheduler_api_calendar_delete", args=["holidays"])
    page = admin_client.get(delete).content.decode()
    assert "uses.it" in page
    admin_client.post(delete, {"post": "yes"})
    assert rows() == before
    html = admin_client.get(change_url("holidays")).content.decode()
    assert "uses.it" in html  # "Jobs naming it"
    Job.objects.all().delete()
    admin_client.post(delete, {"post": "yes"})
    assert not Calendar.objects.exists()
