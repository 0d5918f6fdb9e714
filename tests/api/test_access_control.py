"""Who may reach the API: relayed requests, forged forwarding headers, cross-site pages, foreign hosts,
misspelt parameters, unknown paths, ids made of dots, and a missing guard (issue 11, items 1-10).

Every refusal also checks that the database is unchanged.
"""

from __future__ import annotations

import importlib

import pytest
from django.core.checks import Error
from django.test import Client, override_settings

from django_scheduler_api.checks import check_middleware, check_networks
from django_scheduler_api.models import Job
from tests.api.conftest import BASE

pytestmark = pytest.mark.django_db

WRITES = [("post", "/jobs/new"), ("post", "/trigger"), ("post", "/pause"), ("delete", "/jobs/a")]


def send_writes(api, **extra):
    """Each write of ``WRITES`` with ``extra`` headers; their status codes."""
    return {
        (method, path): getattr(api, method)(
            f"{BASE}{path}", {"handler": "tests.echo"}, format="json", **extra
        ).status_code
        for method, path in WRITES
    }


@pytest.fixture
def trust(settings):
    """``trust(*proxies, header=...)`` lists trusted proxies (and the header they set)."""

    def configure(*proxies: str, header: str = "X-Forwarded-For") -> None:
        settings.SCHEDULER_API = {
            **settings.SCHEDULER_API,
            "TRUSTED_PROXIES": list(proxies),
            "FORWARDED_HEADER": header,
        }

    return configure


# -- 1. Only the header the proxy sets is believed -----------------------------------------------


@pytest.mark.parametrize(
    "forged",
    [
        {"HTTP_FORWARDED": "for=127.0.0.1"},
        {"HTTP_X_REAL_IP": "127.0.0.1"},
        {"HTTP_FORWARDED": 'for="[::1]"', "HTTP_X_REAL_IP": "::1"},
    ],
)
def test_a_header_the_proxy_does_not_set_is_refused(api, make_job, unchanged, trust, forged):
    """nginx appends the client to X-Forwarded-For and passes the client's own Forwarded on."""
    trust("10.0.0.0/8")
    make_job("a")
    guard = unchanged()
    relayed = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "8.8.8.8", **forged}
    assert set(send_writes(api, **relayed).values()) == {403}
    response = api.get(f"{BASE}/jobs", **relayed)
    assert response.status_code == 403
    assert "not set by the trusted proxy" in response.json()["detail"]
    guard.check()


def test_with_forwarded_configured_x_forwarded_for_is_the_clients(api, make_job, unchanged, trust):
    trust("10.0.0.0/8", header="Forwarded")
    make_job("a")
    guard = unchanged()
    forged = {"REMOTE_ADDR": "10.0.0.1", "HTTP_FORWARDED": "for=8.8.8.8", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
    assert set(send_writes(api, **forged).values()) == {403}
    guard.check()
    assert api.get(f"{BASE}/", REMOTE_ADDR="10.0.0.1", HTTP_FORWARDED="for=127.0.0.1").status_code == 200


def test_x_real_ip_can_be_the_proxys_header(api, trust):
    trust("10.0.0.0/8", header="X-Real-IP")
    assert api.get(f"{BASE}/", REMOTE_ADDR="10.0.0.1", HTTP_X_REAL_IP="127.0.0.1").status_code == 200
    assert api.get(f"{BASE}/", REMOTE_ADDR="10.0.0.1", HTTP_X_REAL_IP="8.8.8.8").status_code == 403


# -- 2. A request relayed by an untrusted proxy on the same host ----------------------------------


@pytest.mark.parametrize(
    "header",
    [
        {"HTTP_X_FORWARDED_FOR": "203.0.113.9"},
        {"HTTP_FORWARDED": "for=203.0.113.9"},
        {"HTTP_X_REAL_IP": "203.0.113.9"},
        {"HTTP_X_FORWARDED_FOR": "127.0.0.1"},  # what the proxy says does not matter: it is not trusted
    ],
)
def test_a_relayed_request_from_an_untrusted_local_proxy_is_403(api, make_job, unchanged, header):
    make_job("a")
    guard = unchanged()
    assert set(send_writes(api, REMOTE_ADDR="127.0.0.1", **header).values()) == {403}
    response = api.get(f"{BASE}/", REMOTE_ADDR="127.0.0.1", **header)
    assert response.status_code == 403
    assert "TRUSTED_PROXIES" in response.json()["detail"]
    guard.check()


def test_a_trusted_local_proxy_relays_local_clients_only(api, make_job, unchanged, trust):
    trust("127.0.0.1")
    make_job("a")
    guard = unchanged()
    outside = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert set(send_writes(api, **outside).values()) == {403}
    # the outside client's own X-Forwarded-For comes first; nginx appends the real address
    spoofed = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "127.0.0.1, 203.0.113.9"}
    assert set(send_writes(api, **spoofed).values()) == {403}
    guard.check()
    inside = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
    assert api.get(f"{BASE}/", **inside).status_code == 200
    assert api.get(f"{BASE}/", REMOTE_ADDR="127.0.0.1").status_code == 200  # straight to the server


# -- 4. Old browsers: Referer, and browser-shaped writes without a body ----------------------------


@pytest.mark.parametrize("referer", ["http://evil.example/page", "http://testserver.evil.example/", "null"])
def test_a_foreign_referer_without_origin_is_403(api, make_job, unchanged, referer):
    make_job("a")
    guard = unchanged()
    for path in ("/pause", "/resume", "/trigger"):
        response = api.generic("POST", f"{BASE}{path}", "", content_type="", HTTP_REFERER=referer)
        assert response.status_code == 403, path
    guard.check()


def test_a_same_origin_referer_passes(api, make_job):
    make_job("a")
    response = api.generic(
        "POST", f"{BASE}/pause", "", content_type="", HTTP_REFERER="http://testserver/scheduler/pause"
    )
    assert response.status_code == 200
    assert Job.objects.get().state == "paused"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_a_browser_shaped_write_without_a_body_is_415(api, make_job, unchanged, content_type):
    make_job("a")
    guard = unchanged()
    for path in ("/pause", "/resume", "/trigger", "/jobs/a"):
        response = api.generic("POST", f"{BASE}{path}", "", content_type=content_type)
        assert response.status_code == 415, path
    guard.check()


# -- 5. Origins compared exactly -----------------------------------------------------------------

HOST = {"HTTP_HOST": "127.0.0.1:8101"}


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example@127.0.0.1:8101",
        "HTTP://127.0.0.1:8101",
        "http://127.0.0.1:08101",
        "http://127.0.0.1:8101/",
        "http://127.0.0.1",
        "https://127.0.0.1:8101",
        "null",
    ],
)
def test_an_origin_that_is_not_exactly_the_servers_is_403(api, make_job, unchanged, origin):
    make_job("a")
    guard = unchanged()
    assert set(send_writes(api, HTTP_ORIGIN=origin, **HOST).values()) == {403}
    guard.check()


def test_the_exact_origin_passes(api, db):
    response = api.post(
        f"{BASE}/jobs/b",
        {"handler": "tests.echo"},
        format="json",
        HTTP_ORIGIN="http://127.0.0.1:8101",
        **HOST,
    )
    assert response.status_code == 200


def test_default_ports_are_left_out_as_browsers_do(api, db):
    assert api.get(f"{BASE}/", HTTP_HOST="localhost:80", HTTP_ORIGIN="http://localhost").status_code == 200
    assert api.get(f"{BASE}/", HTTP_HOST="[::1]:8000", HTTP_ORIGIN="http://[::1]:8000").status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1:99999", "127.0.0.1:0"])
def test_an_impossible_port_in_host_is_400_even_with_a_null_origin(api, make_job, unchanged, host):
    make_job("a")
    guard = unchanged()
    assert set(send_writes(api, HTTP_ORIGIN="null", HTTP_HOST=host).values()) == {400}
    guard.check()


# -- 6. The guard validates Host itself ----------------------------------------------------------


@pytest.mark.parametrize("path", ["/preview?cron_expression=0+0+12+*+*+%3F", "/schema", "/", "/jobs/a"])
def test_a_foreign_host_is_400_without_common_middleware(api, settings, make_job, path):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "CommonMiddleware" not in m]
    make_job("a")
    response = api.get(f"{BASE}{path}", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "Host" in response.json()["detail"]


def test_a_write_under_a_foreign_host_changes_nothing(api, settings, make_job, unchanged):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "CommonMiddleware" not in m]
    make_job("a")
    guard = unchanged()
    assert set(send_writes(api, HTTP_HOST="evil.example").values()) == {400}
    guard.check()


# -- 7. A missing guard is an error ----------------------------------------------------------------


def test_a_missing_guard_is_an_error(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "LocalOnly" not in m]
    (error,) = check_middleware()
    assert isinstance(error, Error) and error.id == "django_scheduler_api.E004"
    assert "ALLOW_WITHOUT_GUARD" in error.hint


def test_the_error_can_be_turned_off_explicitly(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "LocalOnly" not in m]
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "ALLOW_WITHOUT_GUARD": True}
    assert check_middleware() == []


def test_the_test_settings_pass_the_checks():
    assert check_middleware() == [] and check_networks() == []


@pytest.mark.parametrize("header", ["X-Client-IP", "", None])
def test_a_forwarded_header_the_guard_cannot_read_is_an_error(settings, header):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "FORWARDED_HEADER": header}
    (error,) = check_networks()
    assert error.id == "django_scheduler_api.E005"


# -- 8. Unknown paths under the prefix ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nonexistent", "/jobs/a%2Fb", "/jobs/a/b/c", "/pause/now"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "get"])
def test_unknown_paths_are_a_json_404_for_every_method(make_job, unchanged, path, method):
    make_job("a")
    guard = unchanged()
    client = Client(enforce_csrf_checks=True)  # as a real request: Django's CSRF check runs
    response = client.generic(method.upper(), f"{BASE}{path}", "{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("No such endpoint")
    guard.check()


# -- 9. The example project ------------------------------------------------------------------------


def test_the_example_project_runs_without_debug_unless_asked(monkeypatch):
    import example_project.settings as example

    monkeypatch.delenv("DJANGO_DEBUG", raising=False)
    assert importlib.reload(example).DEBUG is False
    monkeypatch.setenv("DJANGO_DEBUG", "1")
    assert importlib.reload(example).DEBUG is True
    monkeypatch.delenv("DJANGO_DEBUG")
    importlib.reload(example)


@override_settings(ROOT_URLCONF="example_project.urls", DEBUG=False)
def test_the_example_serves_the_browsable_apis_static_files_without_debug(client):
    response = client.get("/static/rest_framework/css/bootstrap.min.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)


# -- 10. Ids made only of dots ----------------------------------------------------------------------


@pytest.mark.parametrize("job_id", [".", "..", "...", "." * 200])
def test_ids_made_only_of_dots_are_refused(api, db, unchanged, job_id):
    guard = unchanged()
    response = api.post(f"{BASE}/jobs/{job_id}", {"handler": "tests.echo"}, format="json")
    assert response.status_code == 400
    assert "dots" in response.json()["id"][0]
    guard.check()


def test_ids_with_dots_and_more_are_fine(api, db):
    for job_id in ("a.b", ".a", "..a", "a..", ".-."):
        assert api.post(f"{BASE}/jobs/{job_id}", {"handler": "tests.echo"}, format="json").status_code == 200


def test_the_development_servers_invented_text_plain_is_not_a_browser_write(api, make_job):
    """wsgiref (runserver) fills in ``text/plain`` when a request sends no Content-Type at all."""
    make_job("a")
    dev = {"SERVER_SOFTWARE": "WSGIServer/0.2 CPython/3.12"}
    assert api.generic("POST", f"{BASE}/pause", "", content_type="text/plain", **dev).status_code == 200
    assert Job.objects.get().state == "paused"
    # with a body, or on another server, text/plain is what it says
    body = api.generic("POST", f"{BASE}/resume", "{}", content_type="text/plain", **dev)
    assert body.status_code == 415
    other = {"SERVER_SOFTWARE": "gunicorn/23.0.0"}
    assert api.generic("POST", f"{BASE}/resume", "", content_type="text/plain", **other).status_code == 415
    assert Job.objects.get().state == "paused"
