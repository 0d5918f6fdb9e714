"""docs/api.rst: only local clients, no cross-site browser requests, JSON-only and bounded bodies."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from django_scheduler_api.middleware import client_address, forwarded_for, parse_address
from django_scheduler_api.models import Job
from tests.api.conftest import BASE

pytestmark = pytest.mark.django_db


@pytest.fixture
def proxies(settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "TRUSTED_PROXIES": ["10.0.0.0/8"]}


@pytest.mark.parametrize("address", ["127.0.0.1", "127.5.6.7", "::1", "::ffff:127.0.0.1"])
def test_loopback_clients_are_served(api, address):
    assert api.get(f"{BASE}/", REMOTE_ADDR=address).status_code == 200


@pytest.mark.parametrize(
    "address", ["192.168.1.5", "10.1.2.3", "2001:db8::1", "::ffff:192.168.1.5", "", "garbage"]
)
@pytest.mark.parametrize("path", ["/", "/jobs", "/nothing/here", "/schema", "/docs"])
def test_other_clients_get_403_json(api, address, path):
    response = api.get(f"{BASE}{path}", REMOTE_ADDR=address)
    assert response.status_code == 403
    assert response.json() == {"detail": "The scheduler API is only available from the local host."}


def test_a_refused_client_changes_nothing(api, make_job, unchanged):
    make_job("a")
    guard = unchanged()
    for method, path in [
        ("post", "/jobs/b"),
        ("delete", "/jobs/a"),
        ("post", "/pause"),
        ("post", "/trigger"),
    ]:
        response = getattr(api, method)(
            f"{BASE}{path}", {"handler": "tests.echo"}, format="json", REMOTE_ADDR="8.8.8.8"
        )
        assert response.status_code == 403
    guard.check()


def test_allowed_networks_is_a_setting(api, settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "ALLOWED_NETWORKS": ["192.168.0.0/16"]}
    assert api.get(f"{BASE}/", REMOTE_ADDR="192.168.7.7").status_code == 200
    assert api.get(f"{BASE}/", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_forwarded_headers_are_never_believed_without_a_trusted_proxy(api):
    response = api.get(f"{BASE}/", REMOTE_ADDR="8.8.8.8", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 403
    response = api.get(f"{BASE}/", REMOTE_ADDR="8.8.8.8", HTTP_FORWARDED="for=127.0.0.1")
    assert response.status_code == 403


def test_behind_a_trusted_proxy_the_rightmost_untrusted_address_is_the_client(api, proxies):
    local = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "8.8.8.8, 127.0.0.1, 10.0.0.2"}
    assert api.get(f"{BASE}/", **local).status_code == 200
    spoofed = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "127.0.0.1, 8.8.8.8"}
    assert api.get(f"{BASE}/", **spoofed).status_code == 403
    assert api.get(f"{BASE}/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="unknown").status_code == 403
    # the proxy itself, with no header, is not a local client
    assert api.get(f"{BASE}/", REMOTE_ADDR="10.0.0.1").status_code == 403


def test_a_proxy_that_sets_forwarded_is_read_by_its_for_nodes(api, settings):
    settings.SCHEDULER_API = {
        **settings.SCHEDULER_API,
        "TRUSTED_PROXIES": ["10.0.0.0/8"],
        "FORWARDED_HEADER": "Forwarded",
    }
    assert api.get(f"{BASE}/", REMOTE_ADDR="10.0.0.1", HTTP_FORWARDED='for="[::1]:4711"').status_code == 200
    assert api.get(f"{BASE}/", REMOTE_ADDR="10.0.0.1", HTTP_FORWARDED="for=_hidden").status_code == 403


def test_address_parsing():
    assert str(parse_address("::ffff:127.0.0.1")) == "127.0.0.1"
    assert str(parse_address("[::1]:80")) == "::1"
    assert str(parse_address("1.2.3.4:8080")) == "1.2.3.4"
    assert parse_address("unknown") is None
    assert forwarded_for('for=1.2.3.4;proto=http, For="[::1]:1"') == ["1.2.3.4", "[::1]:1"]
    assert str(client_address({"REMOTE_ADDR": "::ffff:127.0.0.1"})) == "127.0.0.1"


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": "http://evil.example"},
        {"HTTP_ORIGIN": "http://localhost:3000"},
        {"HTTP_ORIGIN": "null"},
        {"HTTP_ORIGIN": "https://testserver"},
        {"HTTP_ORIGIN": "http://testserver:80"},
        {"HTTP_SEC_FETCH_SITE": "cross-site"},
    ],
)
def test_cross_site_browser_requests_are_403_and_change_nothing(api, make_job, unchanged, headers):
    make_job("a")
    guard = unchanged()
    for method, path in [("post", "/pause"), ("post", "/jobs/b"), ("get", "/jobs"), ("options", "/jobs/a")]:
        response = getattr(api, method)(f"{BASE}{path}", {"handler": "tests.echo"}, format="json", **headers)
        assert response.status_code == 403
        assert "detail" in response.json()
    guard.check()


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": "http://testserver"},
        {"HTTP_SEC_FETCH_SITE": "same-origin", "HTTP_ORIGIN": "http://testserver"},
        {"HTTP_SEC_FETCH_SITE": "none"},
    ],
)
def test_same_origin_browser_requests_pass(api, db, headers):
    response = api.post(f"{BASE}/jobs/b", {"handler": "tests.echo"}, format="json", **headers)
    assert response.status_code == 200


def test_a_body_over_the_limit_is_413_before_it_is_read(api, db, unchanged):
    guard = unchanged()
    content = '{"handler": "tests.echo", "data": {"x": "' + "a" * (10 * 1024 * 1024) + '"}}'
    response = api.generic("POST", f"{BASE}/jobs/big", content, content_type="application/json")
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    guard.check()


def test_the_body_limit_is_a_setting(api, db, settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "MAX_BODY_SIZE": 10}
    response = api.post(f"{BASE}/trigger", {"a": "0123456789"}, format="json")
    assert response.status_code == 413


def test_an_invalid_content_length_is_400(api, db):
    response = api.generic("POST", f"{BASE}/pause", "", CONTENT_LENGTH="abc")
    assert response.status_code == 400


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", "application/xml"])
def test_non_json_bodies_are_415(api, db, unchanged, content_type):
    guard = unchanged()
    response = api.generic("POST", f"{BASE}/jobs/a", '{"handler": "tests.echo"}', content_type=content_type)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    guard.check()


def test_an_empty_post_needs_no_content_type(api, make_job):
    make_job("a")
    assert api.generic("POST", f"{BASE}/pause", "", content_type="").status_code == 200
    assert Job.objects.get().state == "paused"


def test_the_admin_is_not_guarded(client, db):
    User.objects.create_superuser("admin", "a@example.com", "pw")
    client.login(username="admin", password="pw")
    assert client.get("/admin/", REMOTE_ADDR="192.168.1.5").status_code == 200
