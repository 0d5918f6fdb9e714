"""DELETE racing with trigger (issue 11, item 17), with real concurrent HTTP requests to a live server.

Before the trigger locked the job's row, 20 triggers and one DELETE sent together on PostgreSQL all
answered 200, and executions created a few milliseconds after the delete were never cancelled: they
ran after the job was gone. Now a DELETE waits for the triggers that found the job and cancels their
executions; a trigger that comes after it gets 404. No worker runs here, so every execution of a
deleted job must end ``cancelled``.
"""

from __future__ import annotations

import http.client
import threading
from urllib.parse import urlsplit

import pytest

from django_scheduler_api import services
from django_scheduler_api.models import Execution, Job

TRIGGERS = 20
ROUNDS = 5


def send(base: str, method: str, path: str, body: str = "") -> int:
    """One request (with a JSON ``body``, if any) on a connection of its own; its status code."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        headers = {"Content-Length": str(len(body.encode()))}
        if body:
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=body.encode() or None, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def race(base: str, job_id: str) -> list[tuple[str, int]]:
    """``TRIGGERS`` triggers and one DELETE of ``job_id``, released at once; (method, status) each."""
    requests = [("POST", f"/scheduler/trigger?ids={job_id}")] * TRIGGERS
    requests.insert(TRIGGERS // 2, ("DELETE", f"/scheduler/jobs/{job_id}"))
    start = threading.Barrier(len(requests))
    answers: list[tuple[str, int]] = []

    def run(method: str, path: str) -> None:
        start.wait()
        answers.append((method, send(base, method, path)))

    threads = [threading.Thread(target=run, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.django_db(transaction=True)
def test_no_execution_of_a_deleted_job_stays_queued(live_server, monkeypatch):

    for round_ in range(ROUNDS):
        job_id = f"race.{round_}"
        services.save_job(job_id, {"handler": "tests.echo"})
        answers = race(live_server.url, job_id)
        assert ("DELETE", 200) in answers
        assert {status for method, status in answers if method == "POST"} <= {200, 404}
        assert not Job.objects.filter(pk=job_id).exists()
        statuses = list(Execution.objects.filter(job_id=job_id).values_list("status", flat=True))
        assert set(statuses) <= {Execution.Status.CANCELLED}, statuses
        triggered = sum(1 for method, status in answers if method == "POST" and status == 200)
        assert len(statuses) == triggered
