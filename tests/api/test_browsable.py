"""The browsable API: every endpoint renders in a browser, with a description and a JSON form."""

from __future__ import annotations

import pytest

from tests.api.conftest import BASE

pytestmark = pytest.mark.django_db

HTML = {"HTTP_ACCEPT": "text/html"}


@pytest.mark.parametrize(
    ("path", "description"),
    [
        ("/", "Whether a scheduler process is running"),
        ("/jobs", "Jobs ordered by id"),
        ("/jobs/a", "Add the job, or replace it whole"),
        ("/jobs/a/executions", "executions, newest first"),
        ("/executions", "Executions of all jobs"),
        ("/handlers", "The registered handlers"),
        ("/preview?cron_expression=0+0+12+*+*+%3F", "The next"),
        ("/pause", "Pause the jobs"),
        ("/resume", "Resume the jobs"),
        ("/trigger", "Run the jobs"),
    ],
)
def test_every_endpoint_renders_with_its_description(api, make_job, path, description):
    make_job("a")
    response = api.get(f"{BASE}{path}", **HTML)
    assert response.status_code in (200, 405)
    assert response["Content-Type"].startswith("text/html")
    assert description in response.content.decode()


def test_the_job_page_offers_a_json_form_only(api, make_job):
    make_job("a")
    page = api.get(f"{BASE}/jobs/a", **HTML).content.decode()
    assert 'value="application/json"' in page
    assert "application/x-www-form-urlencoded" not in page
    assert "&quot;handler&quot;" in page  # the raw form is pre-filled with the job's fields


def test_errors_render_as_json_for_api_clients(api):
    assert api.get(f"{BASE}/jobs/nope", HTTP_ACCEPT="*/*")["Content-Type"] == "application/json"
    assert api.get(f"{BASE}/jobs/nope")["Content-Type"] == "application/json"


@pytest.mark.parametrize("path", ["/nothing", "/jobs/a/b/c", "/jobs/a/executions/x", "/docs/assets/"])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_paths_are_json_404_without_redirect(api, path, method):
    response = getattr(api, method)(f"{BASE}{path}", **HTML)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [("put", "/jobs/a"), ("delete", "/jobs"), ("post", "/executions"), ("patch", "/handlers"), ("post", "/")],
)
def test_wrong_methods_are_json_405(api, method, path):
    response = getattr(api, method)(f"{BASE}{path}", {}, format="json")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "path",
    ["", "/", "/jobs", "/jobs/", "/handlers/", "/executions/", "/preview/?cron_expression=*+*+*+*+*+%3F"],
)
def test_no_path_redirects(api, path):
    assert api.get(f"{BASE}{path}").status_code == 200


def test_a_post_without_trailing_slash_is_not_redirected(api, db):
    assert api.post(f"{BASE}/pause").status_code == 200
    assert api.post(f"{BASE}/pause/").status_code == 200


def _raw_form_body(page: str) -> dict:
    """The JSON the browsable API's raw-data form would post, read from the page's textarea."""
    import html
    import json
    import re

    match = re.search(r'<textarea name="_content"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "the page has no raw-data form"
    return json.loads(html.unescape(match.group(1)))


def test_the_form_for_a_new_job_posts_as_it_stands(api):
    body = _raw_form_body(api.get(f"{BASE}/jobs/fresh.job", **HTML).content.decode())
    assert body["handler"] and body["cron_expression"]
    response = api.post(f"{BASE}/jobs/fresh.job", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["next_fire_time"] is not None


def test_the_form_for_an_existing_job_holds_its_writable_fields(api, make_job):
    make_job("a.b", cron_expression="0 0 6 * * ?", data={"k": 1}, description="keep")
    body = _raw_form_body(api.get(f"{BASE}/jobs/a.b", **HTML).content.decode())
    assert body["cron_expression"] == "0 0 6 * * ?"
    assert body["data"] == {"k": 1} and body["description"] == "keep"
    assert "next_fire_time" not in body and "url" not in body  # read-only fields are left out
    before = api.get(f"{BASE}/jobs/a.b").json()
    after = api.post(f"{BASE}/jobs/a.b", body, format="json").json()
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }


def test_descriptions_render_as_html_without_repeating_get_for_head(api, make_job):
    make_job("a")
    page = api.get(f"{BASE}/jobs/a", **HTML).content.decode()
    assert "<strong>GET</strong>" in page and "**GET**" not in page
    description = page.split('<div class="pull-left">')[1].split("</div>")[0]
    assert "<strong>DELETE</strong>" in description and "HEAD" not in description
