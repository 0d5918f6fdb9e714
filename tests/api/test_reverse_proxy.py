"""The guard behind a real nginx on the same host (issue 11, items 1-2; README, "Behind a reverse
proxy on the same host").

nginx relays every client from 127.0.0.1, so without the guard's rule every client would be local. The
"outside" client is 127.0.0.2 (all traffic stays on loopback), which this test leaves out of
``ALLOWED_NETWORKS``. nginx runs the README's snippet as written (only the upstream's port
differs): ``X-Forwarded-For`` set to ``$proxy_add_x_forwarded_for``, which appends the client's
address to whatever the client sent, and ``Host`` passed on, so that a DNS-rebinding page's foreign
host name reaches the guard (issue 21, D3).
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import socket
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from django_scheduler_api.models import Job
from tests.support import ROOT, port_open, require_executable, wait_for

pytestmark = pytest.mark.integration

INSIDE, OUTSIDE = "127.0.0.1", "127.0.0.2"

NGINX_CONF = """
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
{location}
    }}
}}
"""


def documented_location() -> str:
    """The README's nginx snippet (``proxy-nginx``) as written; docs/deployment.rst shows the same."""
    spec = importlib.util.spec_from_file_location("install_run", ROOT / "tests/install/run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    return run.readme_blocks((ROOT / "README.rst").read_text())["proxy-nginx"]


def test_the_deployment_guide_shows_the_readmes_snippet():
    deployment = (ROOT / "docs/deployment.rst").read_text()
    assert textwrap.indent(documented_location(), "    ") in deployment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def nginx(live_server, tmp_path: Path) -> Iterator[int]:
    """nginx on a port of its own in front of the live server; its port. Stopped by its pid."""
    binary = require_executable("nginx", "nginx-light")
    port, upstream = free_port(), urlsplit(live_server.url).port
    conf = tmp_path / "nginx.conf"
    location = documented_location().replace("127.0.0.1:8000", f"127.0.0.1:{upstream}")
    assert f":{upstream};" in location
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, port=port, location=textwrap.indent(location, " " * 8)))
    process = subprocess.Popen(
        [binary, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: port_open("127.0.0.1", port) or process.poll() is not None)
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def outside_is_not_local(settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "ALLOWED_NETWORKS": ["127.0.0.1/32", "::1/128"]}


def request(port: int, method: str, path: str, *, source: str, body: dict | None = None, **headers: str):
    """(status, JSON answer) of one request to 127.0.0.1:``port`` sent from the address ``source``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    payload = json.dumps(body).encode() if body is not None else b""
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("outside_is_not_local")
def test_by_default_every_request_relayed_by_the_proxy_is_403(nginx, live_server):
    for source in (OUTSIDE, INSIDE):
        status, answer = request(nginx, "GET", "/scheduler/jobs", source=source)
        assert status == 403
        assert "TRUSTED_PROXIES" in answer["detail"]
        status, _ = request(nginx, "POST", "/scheduler/jobs/a", source=source, body={"handler": "tests.echo"})
        assert status == 403
    assert not Job.objects.exists()
    # the server itself still answers a local client that reaches it directly
    assert request(urlsplit(live_server.url).port, "GET", "/scheduler/jobs", source=INSIDE)[0] == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("outside_is_not_local")
def test_once_the_proxy_is_trusted_only_local_clients_get_through(nginx, settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "TRUSTED_PROXIES": ["127.0.0.1"]}
    status, answer = request(
        nginx, "POST", "/scheduler/jobs/out", source=OUTSIDE, body={"handler": "tests.echo"}
    )
    assert (status, answer["detail"]) == (403, "The scheduler API is only available from the local host.")
    for forged in ({"X-Forwarded-For": INSIDE}, {"Forwarded": f"for={INSIDE}"}, {"X-Real-IP": INSIDE}):
        status, _ = request(nginx, "POST", "/scheduler/trigger", source=OUTSIDE, **forged)
        assert status == 403, forged
    assert not Job.objects.exists()

    status, answer = request(
        nginx, "POST", "/scheduler/jobs/in", source=INSIDE, body={"handler": "tests.echo"}
    )
    assert status == 200 and answer["id"] == "in"
    assert request(nginx, "GET", "/scheduler/jobs/in", source=INSIDE)[0] == 200
    assert list(Job.objects.values_list("id", flat=True)) == ["in"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("outside_is_not_local")
def test_a_rebinding_host_through_the_proxy_is_400_json(nginx, settings):
    """A page of ``rebound.example`` resolved to 127.0.0.1 by DNS rebinding: the browser is local
    and sends that Host. Through the documented snippet it reaches the guard, which refuses it."""
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "TRUSTED_PROXIES": ["127.0.0.1"]}
    Job.objects.create(id="a", handler="tests.echo", cron_expression="0 0 12 * * ?")
    for path in ("/scheduler/jobs", "/scheduler/executions", "/scheduler/metrics"):
        status, answer = request(nginx, "GET", path, source=INSIDE, Host=f"rebound.example:{nginx}")
        assert status == 400, path
        assert answer == {"detail": "Invalid Host header: it is not one of ALLOWED_HOSTS."}
    status, _ = request(nginx, "POST", "/scheduler/pause", source=INSIDE, Host="rebound.example")
    assert status == 400
    assert Job.objects.get().state == "planned"
    assert request(nginx, "GET", "/scheduler/jobs", source=INSIDE, Host=f"localhost:{nginx}")[0] == 200
