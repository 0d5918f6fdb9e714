"""Bad bytes at the edge (issue 11, items 11-14 and 18): every one is a 4xx with a reason, never a
500, and leaves the database as it was, on every database the suite runs on.
"""

from __future__ import annotations

import pytest

from django_scheduler_api.models import Execution, Job
from tests.api.conftest import BASE

pytestmark = pytest.mark.django_db

DEEP = "[" * 10_000 + "]" * 10_000
TOO_DEEP = "[" * 32 + "]" * 32

# Values no database stores alike, as JSON text; each is refused wherever it appears in a body.
BAD_VALUES = {
    "lone-surrogate": '"\\ud800"',
    "lone-low-surrogate": '"a\\udfffb"',
    "nul": '"a\\u0000b"',
    "huge-number": "1e400",
    "huge-negative": "-1e400",
    "nan": "NaN",
    "infinity": "Infinity",
    "nested-10000": DEEP,
    "nested-32": TOO_DEEP,
    "huge-integer": "9" * 5000,
}


def post_raw(api, path, body, content_type="application/json"):
    return api.generic("POST", f"{BASE}{path}", body, content_type=content_type)


@pytest.fixture
def job(make_job):
    return make_job("a", data={"keep": 1})


def assert_refused(response, status=400):
    assert response.status_code == status, response.content
    assert response.json()["detail"]


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_a_bad_value_in_job_data_is_400_on_post_and_patch(api, job, unchanged, value):
    guard = unchanged()
    assert_refused(post_raw(api, "/jobs/b", f'{{"handler": "tests.echo", "data": {{"x": {value}}}}}'))
    assert_refused(post_raw(api, "/jobs/a", f'{{"handler": "tests.echo", "data": {{"x": {value}}}}}'))
    patch = api.generic(
        "PATCH", f"{BASE}/jobs/a", f'{{"data": {{"x": {value}}}}}', content_type="application/json"
    )
    assert_refused(patch)
    guard.check()
    # and every read still works
    assert api.get(f"{BASE}/jobs").status_code == 200
    assert api.get(f"{BASE}/jobs/a").json()["data"] == {"keep": 1}


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_a_bad_value_in_a_trigger_body_is_400_like_in_data(api, job, unchanged, value):
    guard = unchanged()
    assert_refused(post_raw(api, "/trigger?ids=a", f'{{"x": {value}}}'))
    assert_refused(post_raw(api, "/trigger", f'{{"x": {value}}}'))
    guard.check()
    assert api.get(f"{BASE}/executions").json() == []


@pytest.mark.parametrize(
    "body",
    [
        '{"handler": "tests.echo", "data": {"\\ud800": 1}}',
        '{"handler": "tests.echo", "description": "a\\u0000b"}',
        '{"handler": "tests.echo", "group": "\\udc00"}',
        '{"handler": "tests.echo\\u0000"}',
        '{"handler": "tests.echo", "\\u0000": 1}',
    ],
    ids=["surrogate-key", "nul-description", "surrogate-group", "nul-handler", "nul-key"],
)
def test_bad_characters_anywhere_in_a_job_body_are_400(api, db, unchanged, body):
    guard = unchanged()
    assert_refused(post_raw(api, "/jobs/b", body))
    guard.check()


@pytest.mark.parametrize(
    "body",
    [
        '{"handler": "tests.echo", "handler": "tests.echo"}',
        '{"handler": "tests.echo", "data": {"x": 1, "x": 2}}',
        '{"handler": "tests.echo", "description": "a", "description": "b"}',
    ],
)
def test_duplicate_keys_are_400(api, job, unchanged, body):
    guard = unchanged()
    response = post_raw(api, "/jobs/a", body)
    assert_refused(response)
    assert "Duplicate key" in response.json()["detail"]
    assert_refused(post_raw(api, "/trigger?ids=a", '{"x": 1, "x": 2}'))
    guard.check()


def test_nesting_up_to_the_limit_is_stored_and_read_back(api, db):
    nested = "[" * 29 + "]" * 29  # 31 levels with the body and the data objects
    response = post_raw(api, "/jobs/b", f'{{"handler": "tests.echo", "data": {{"x": {nested}}}}}')
    assert response.status_code == 200
    assert api.get(f"{BASE}/jobs/b").status_code == 200


def test_body_bytes_that_are_not_utf8_are_400(api, db, unchanged):
    guard = unchanged()
    assert_refused(post_raw(api, "/jobs/b", b'{"handler": "tests.echo", "description": "\xff"}'))
    assert_refused(post_raw(api, "/trigger", b'{"x": "\xc3"}'))
    guard.check()


@pytest.mark.parametrize("charset", ["utf-7", "latin-1", "utf-16", "nonsense"])
def test_a_charset_other_than_utf8_is_415(api, job, unchanged, charset):
    guard = unchanged()
    content_type = f"application/json; charset={charset}"
    assert_refused(post_raw(api, "/jobs/b", '{"handler": "tests.echo"}', content_type), 415)
    assert_refused(post_raw(api, "/trigger?ids=a", '{"x": 1}', content_type), 415)
    guard.check()


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "utf8"])
def test_utf8_may_be_named(api, db, charset):
    content_type = f"application/json; charset={charset}"
    response = post_raw(api, "/jobs/b", '{"handler": "tests.echo", "description": "é"}', content_type)
    assert response.status_code == 200
    assert Job.objects.get(pk="b").description == "é"


# -- ids no job can have: the same answer on every database ---------------------------------------


@pytest.mark.parametrize("path", ["/jobs/%00", "/jobs/a%00", "/jobs/%00/executions"])
def test_an_id_with_nul_in_the_path_is_400_on_every_method(api, job, unchanged, path):
    """A malformed path id is a 400 (docs/api.rst), never looked up: PostgreSQL would fail on it."""
    guard = unchanged()
    assert api.get(f"{BASE}{path}").status_code == 400
    assert api.get(f"{BASE}{path}", HTTP_ACCEPT="text/html").status_code == 400  # the browsable page
    if not path.endswith("executions"):
        assert api.delete(f"{BASE}{path}").status_code == 400
        assert api.patch(f"{BASE}{path}", {"description": "x"}, format="json").status_code == 400
        assert api.post(f"{BASE}{path}", {"handler": "tests.echo"}, format="json").status_code == 400
    guard.check()


@pytest.mark.parametrize("action", ["pause", "resume", "trigger"])
@pytest.mark.parametrize("ids", ["%00", "a,%00", "a%00b"])
def test_an_id_with_nul_in_ids_is_unknown(api, job, unchanged, action, ids):
    guard = unchanged()
    response = api.post(f"{BASE}/{action}?ids={ids}")
    assert response.status_code == 404
    assert "\x00" in "".join(response.json()["unknown_ids"])
    guard.check()


@pytest.mark.parametrize(
    ("path", "param"),
    [("/jobs", "group"), ("/jobs", "handler"), ("/executions", "job"), ("/preview", "timezone")],
)
def test_nul_in_a_query_filter_is_400(api, job, path, param):
    query = {param: "a\x00", "cron_expression": "0 0 12 * * ?"} if path == "/preview" else {param: "a\x00"}
    assert api.get(f"{BASE}{path}", query).status_code == 400


# -- item 18: strings, zones, instants, cron length ------------------------------------------------


@pytest.mark.parametrize("field", ["description", "group", "name", "handler", "cron_expression", "timezone"])
@pytest.mark.parametrize("value", [5, 1.5, True, ["x"], {"x": 1}])
def test_text_fields_take_only_strings(api, job, unchanged, field, value):
    guard = unchanged()
    body = {"handler": "tests.echo", field: value}
    response = api.post(f"{BASE}/jobs/a", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    patch = api.patch(f"{BASE}/jobs/a", {field: value}, format="json")
    assert patch.status_code == 400
    guard.check()


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posixrules", "utc ", ""])
def test_names_that_are_not_zones_are_refused(api, job, unchanged, zone):
    assert_job_and_preview_refuse(api, unchanged, "timezone", zone, "timezone")


def assert_job_and_preview_refuse(api, unchanged, field: str, value: str, preview_param: str) -> None:
    """A job with ``field`` = ``value`` and a preview with ``preview_param`` = ``value``: 400 both."""
    guard = unchanged()
    response = api.post(f"{BASE}/jobs/a", {"handler": "tests.echo", field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    preview = api.get(f"{BASE}/preview", {"cron_expression": "0 0 12 * * ?", preview_param: value})
    assert preview.status_code == 400
    assert preview_param in preview.json()
    guard.check()


@pytest.mark.parametrize(
    "when",
    [
        "\uff12\uff10\uff12\uff16-05-01T12:00:00Z",  # full-width digits
        "2026-05-01T\uff11\uff12:00:00Z",
        "2026-W18-5T12:00:00Z",  # ISO week date
        "2026-121T12:00:00Z",  # ordinal date
        "20260501T120000Z",  # basic format
        "2026-05-01",  # no time
        "2026-05-01T12",
        "2026-05-01T12:00:00Z ",
        "yesterday",
    ],
)
def test_instants_must_be_iso_8601_extended_in_ascii(api, job, unchanged, when):
    assert_job_and_preview_refuse(api, unchanged, "start_time", when, "after")


@pytest.mark.parametrize(
    ("when", "stored"),
    [
        ("2026-05-01T12:00:00Z", "2026-05-01T12:00:00Z"),
        ("2026-05-01T12:00", "2026-05-01T12:00:00Z"),
        ("2026-05-01 12:00:00", "2026-05-01T12:00:00Z"),
        ("2026-05-01T14:00:00+02:00", "2026-05-01T12:00:00Z"),
        ("2026-05-01T12:00:00.1234567Z", "2026-05-01T12:00:00.123456Z"),  # .NET's "o" format
    ],
)
def test_the_usual_spellings_of_an_instant_are_accepted(api, db, when, stored):
    response = api.post(f"{BASE}/jobs/b", {"handler": "tests.echo", "start_time": when}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["start_time"] == stored


def test_preview_takes_no_longer_cron_text_than_a_job_can_store(api, db):
    limit = Job._meta.get_field("cron_expression").max_length
    too_long = "0 " * (limit // 2) + "0 12 * * ?"
    response = api.get(f"{BASE}/preview", {"cron_expression": too_long})
    assert response.status_code == 400
    assert f"at most {limit}" in response.json()["cron_expression"][0]
    job = api.post(f"{BASE}/jobs/b", {"handler": "tests.echo", "cron_expression": too_long}, format="json")
    assert job.status_code == 400
    assert not Job.objects.exists() and not Execution.objects.exists()
