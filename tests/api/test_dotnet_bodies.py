"""Job bodies as .NET clients write them with Newtonsoft.Json, replayed byte for byte.

Newtonsoft.Json's defaults: PascalCase property names, ``null`` for every unset property, enums as
numbers, ``DateTimeOffset`` with 7 fractional digits and an offset, no spaces. With a
``CamelCasePropertyNamesContractResolver`` the names are camelCase. docs/api.rst, "Bodies of the
original platform": any casing of a field or alias is read, ``null`` for an optional field is its
default, unknown keys are still refused, and answers stay snake_case.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from django_scheduler_api.models import Job
from tests.api.conftest import BASE
from tests.api.test_jobs import JOB_KEYS

pytestmark = pytest.mark.django_db

# JsonConvert.SerializeObject(new JobInfo { Id = "reports.daily", HandlerType = "tests.echo",
#     CronExpression = "0 15 10 ? * 2-6", StartTimeUtc = DateTimeOffset.Parse(...),
#     MisfirePolicy = JobMisfirePolicy.FireAndProceed })
PASCAL_CASE = (
    b'{"Id":"reports.daily","Group":null,"Name":null,"State":0,"Description":null,'
    b'"HandlerType":"tests.echo","CronExpression":"0 15 10 ? * 2-6",'
    b'"StartTimeUtc":"2030-01-01T10:15:00.1234567+03:00","EndTimeUtc":null,"MisfirePolicy":1,'
    b'"Data":null}'
)
# The same with CamelCasePropertyNamesContractResolver, the job paused and some data.
CAMEL_CASE = (
    b'{"id":"reports.daily","group":"reports","name":"daily","state":1,"description":"Daily",'
    b'"handlerType":"tests.echo","cronExpression":"0 15 10 ? * 2-6","startTimeUtc":null,'
    b'"endTimeUtc":"2031-06-30T23:59:59.9999999Z","misfirePolicy":0,"data":{"Recipients":["ops"]}}'
)


def post_raw(api, body: bytes, method: str = "post", job_id: str = "reports.daily"):
    return getattr(api, method)(f"{BASE}/jobs/{job_id}", body, content_type="application/json")


def test_a_pascal_case_body_with_nulls_creates_the_job(api):
    response = post_raw(api, PASCAL_CASE)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert list(body) == JOB_KEYS  # the answer keeps its snake_case shape
    assert (body["handler"], body["cron_expression"], body["state"]) == (
        "tests.echo",
        "0 15 10 ? * 2-6",
        "planned",
    )
    assert (body["group"], body["name"], body["description"], body["data"]) == ("reports", "daily", "", {})
    assert body["misfire_policy"] == "fire_and_proceed" and body["end_time"] is None
    job = Job.objects.get(pk="reports.daily")
    assert job.start_time == datetime(
        2030, 1, 1, 7, 15, 0, 123456, tzinfo=UTC
    )  # 7 digits: to the microsecond
    assert job.timezone == "UTC"


def test_a_camel_case_body_keeps_the_casing_inside_data(api):
    response = post_raw(api, CAMEL_CASE)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["state"], body["description"], body["misfire_policy"]) == ("paused", "Daily", "do_nothing")
    assert body["data"] == {"Recipients": ["ops"]}
    assert body["start_time"] is None and body["end_time"].startswith("2031-06-30T23:59:59.999999")


def test_nulls_in_a_post_reset_an_existing_job_to_the_defaults(api, make_job):
    make_job(
        description="old", data={"a": 1}, state="paused", timezone="Europe/Berlin", overlap_policy="skip"
    )
    response = post_raw(
        api, PASCAL_CASE.replace(b'"MisfirePolicy":1', b'"OverlapPolicy":null,"Timezone":null')
    )
    assert response.status_code == 200, response.json()
    job = Job.objects.get(pk="reports.daily")
    assert (job.description, job.data, job.state) == ("", {}, "planned")
    assert (job.timezone, job.overlap_policy, job.misfire_policy) == ("UTC", "allow", "do_nothing")


def test_a_null_in_a_patch_sets_that_fields_default_and_leaves_the_rest(api, make_job):
    make_job(description="old", data={"a": 1}, state="paused", cron_expression="0 0 12 * * ?")
    response = post_raw(api, b'{"Description":null,"State":null,"Data":null}', method="patch")
    assert response.status_code == 200, response.json()
    job = Job.objects.get(pk="reports.daily")
    assert (job.description, job.state, job.data) == ("", "planned", {})
    assert job.cron_expression == "0 0 12 * * ?"


@pytest.mark.parametrize(
    "key",
    ["handler", "Handler", "HANDLER", "handlerType", "HandlerType", "handler_type"],
)
def test_every_casing_of_a_field_or_alias_is_read(api, key):
    response = post_raw(api, f'{{"{key}":"tests.echo","CRON_EXPRESSION":"0 0 12 * * ?"}}'.encode())
    assert response.status_code == 200, response.json()
    assert response.json()["handler"] == "tests.echo"
    assert response.json()["cron_expression"] == "0 0 12 * * ?"


def test_two_spellings_with_one_value_are_one_key(api):
    response = post_raw(api, b'{"handler":"tests.echo","HandlerType":"tests.echo","Handler":"tests.echo"}')
    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        pytest.param(
            b'{"HandlerType":"tests.echo","Handlr":"x"}', "Handlr", "Unknown field", id="unknown-key"
        ),
        pytest.param(
            b'{"HandlerType":"tests.echo","handler":"tests.fail"}',
            "HandlerType",
            "Conflicts with",
            id="conflict",
        ),
        pytest.param(
            b'{"handler":"tests.echo","CronExpression":"0 0 12 * * ?","cron_expression":"0 0 1 * * ?"}',
            "CronExpression",
            "Conflicts with",
            id="conflict-casing",
        ),
        pytest.param(b'{"HandlerType":null}', "handler", "may not be null", id="null-handler"),
        pytest.param(b'{"HandlerType":"tests.echo","State":7}', "state", "not a valid choice", id="bad-enum"),
        pytest.param(
            b'{"HandlerType":"tests.echo","StartTimeUtc":"2030-13-01T00:00:00.1234567+03:00"}',
            "start_time",
            "format",
            id="bad-date",
        ),
    ],
)
def test_refused_dotnet_bodies_name_the_key_and_change_nothing(
    api, make_job, unchanged, body, field, message
):
    make_job(description="kept")
    guard = unchanged()
    response = post_raw(api, body)
    assert response.status_code == 400
    assert message in " ".join(response.json()[field]), response.json()
    guard.check()
