"""The guard fails closed and answers JSON (issue 21).

- A project that forgot ``LocalOnlyMiddleware`` is stopped by ``check`` under ``runserver``, but
  gunicorn runs no checks: a request from 10.1.2.3 got 200. Every view of the app now runs the
  guard's check itself (``middleware.guarded``), so the API is closed without the middleware too.
- Placed first in ``MIDDLEWARE`` (as the README now shows), the guard answers a foreign ``Host``
  with its JSON 400 before ``CommonMiddleware`` answers it with Django's HTML page.
- Behind a proxy, the hosts it forwards (``X-Forwarded-Host``, ``Forwarded: host=``) must be allowed
  as well, so a proxy that rewrites ``Host`` to its upstream does not open the API to DNS rebinding.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from django.core.handlers.wsgi import WSGIHandler

from django_scheduler_api.checks import check_middleware
from django_scheduler_api.models import Job
from tests.api.conftest import BASE
from tests.support import ROOT

INSIDE, OUTSIDE = "127.0.0.1", "127.0.0.2"
GUARD = "django_scheduler_api.middleware.LocalOnlyMiddleware"


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server_without_guard(settings) -> Iterator[int]:
    """A real WSGI server (the standard library's ``wsgiref``, which, like gunicorn, runs no system
    checks) on 127.0.0.1, serving the project with settings whose ``MIDDLEWARE`` lacks the guard;
    its port.

    A remote client is simulated without any header the server would have to trust: the client
    connects from a second loopback address, 127.0.0.2, which the settings leave out of
    ``ALLOWED_NETWORKS`` (``127.0.0.1/32``). So ``REMOTE_ADDR`` is a real peer address the app
    treats as non-local, with no proxy, namespace or root needed.
    """
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != GUARD]
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "ALLOWED_NETWORKS": ["127.0.0.1/32"]}
    assert [error.id for error in check_middleware()] == ["django_scheduler_api.E004"]  # the scenario
    server = make_server(INSIDE, 0, WSGIHandler(), handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def request(port: int, method: str, path: str, *, source: str, body: dict | None = None):
    """(status, content type, JSON answer) of one request to 127.0.0.1:``port`` from ``source``."""
    connection = http.client.HTTPConnection(INSIDE, port, timeout=60, source_address=(source, 0))
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        connection.request(method, path, body=json.dumps(body).encode() if body else None, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), json.loads(response.read() or b"null")
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_without_the_middleware_a_remote_client_gets_403_and_changes_nothing(server_without_guard):
    port = server_without_guard
    Job.objects.create(id="a", handler="tests.echo", cron_expression="0 0 12 * * ?")
    refused = [
        ("GET", f"{BASE}/jobs", None),
        ("GET", f"{BASE}/executions", None),
        ("GET", f"{BASE}/metrics", None),
        ("GET", f"{BASE}/schema", None),
        ("GET", f"{BASE}/docs", None),
        ("GET", f"{BASE}/no-such-path", None),
        ("POST", f"{BASE}/jobs/new", {"handler": "tests.echo"}),
        ("POST", f"{BASE}/pause", None),
        ("DELETE", f"{BASE}/jobs/a", None),
    ]
    for method, path, body in refused:
        status, content_type, answer = request(port, method, path, source=OUTSIDE, body=body)
        assert (status, content_type) == (403, "application/json"), (method, path)
        assert answer == {"detail": "The scheduler API is only available from the local host."}
    assert list(Job.objects.values_list("id", "state")) == [("a", "planned")]
    # the same server answers a local client: the refusals above are the views' own
    assert request(port, "GET", f"{BASE}/jobs/a", source=INSIDE)[0] == 200


def readme_middleware_line() -> str:
    """The line of the README's settings that installs the guard."""
    spec = importlib.util.spec_from_file_location("install_run", ROOT / "tests/install/run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    settings_block = run.readme_blocks((ROOT / "README.rst").read_text())["install-settings"]
    (line,) = [line for line in settings_block.splitlines() if line.startswith("MIDDLEWARE")]
    return line


@pytest.mark.django_db
def test_placed_as_the_readme_says_a_foreign_host_gets_the_guards_json_400(client, settings, unchanged):
    namespace = {"MIDDLEWARE": [name for name in settings.MIDDLEWARE if name != GUARD]}
    exec(readme_middleware_line(), namespace)  # the README's own line
    assert namespace["MIDDLEWARE"].index(GUARD) < namespace["MIDDLEWARE"].index(
        "django.middleware.common.CommonMiddleware"
    )
    settings.MIDDLEWARE = namespace["MIDDLEWARE"]
    guard = unchanged()
    for method in ("get", "post"):
        response = getattr(client, method)(f"{BASE}/jobs/x", HTTP_HOST="rebound.example")
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Invalid Host header: it is not one of ALLOWED_HOSTS."}
    guard.check()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        {"HTTP_X_FORWARDED_HOST": "rebound.example"},
        {"HTTP_X_FORWARDED_HOST": "localhost, rebound.example:8080"},
        {"HTTP_FORWARDED": 'for=127.0.0.1;host="rebound.example"'},
    ],
)
def test_a_forwarded_host_outside_allowed_hosts_is_400(api, settings, unchanged, header):
    """From a trusted proxy that rewrote ``Host`` to its upstream (``127.0.0.1:8000``)."""
    settings.SCHEDULER_API = {
        **settings.SCHEDULER_API,
        "TRUSTED_PROXIES": ["127.0.0.1"],
        "FORWARDED_HEADER": "Forwarded" if "HTTP_FORWARDED" in header else "X-Forwarded-For",
    }
    guard = unchanged()
    for path in ("jobs", "executions", "metrics"):
        response = api.get(f"{BASE}/{path}", HTTP_HOST="127.0.0.1:8000", **header)
        assert response.status_code == 400, path
        assert "forwarded host" in response.json()["detail"]
    assert api.post(f"{BASE}/pause", HTTP_HOST="127.0.0.1:8000", **header).status_code == 400
    guard.check()
    allowed = {key: value.replace("rebound.example", "localhost") for key, value in header.items()}
    assert api.get(f"{BASE}/jobs", HTTP_HOST="127.0.0.1:8000", **allowed).status_code == 200
