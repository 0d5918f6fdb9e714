"""Handler logs: what a handler logs while it runs is kept on its execution, its own lines only,
bounded, and shown in the API and the admin."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from django_scheduler_api.engine import handler_logs
from django_scheduler_api.engine.worker import run_executions
from django_scheduler_api.models import Execution
from tests.observe.conftest import make_job

LINES = 20


def pending(job_id: str, **data) -> Execution:
    job = make_job(job_id, handler="tests.log_lines")
    now = timezone.now()
    return Execution.objects.create(
        job=job, handler=job.handler, trigger="manual", scheduled_fire_time=now, fire_time=now, data=data
    )


def tagged(log: str) -> list[tuple[str, str]]:
    """(tag, what) of every line a tests.log_lines handler wrote."""
    return re.findall(r"(?:INFO tests\.testapp\.handlers|WARNING tests\.library): (\w+) (.+)", log)


@pytest.mark.django_db
def test_two_handlers_running_together_log_without_mixing():
    """One task of two executions: their handlers run at the same time on two threads of this
    process (they meet at a barrier first), and each log holds its own lines, all of them, in order."""
    meet = {"parties": 2, "key": "logs-mix", "lines": LINES, "timeout": 30}
    first, second = pending("logs.a", tag="alpha", **meet), pending("logs.b", tag="beta", **meet)
    logging.getLogger("tests.testapp.handlers").warning("logged by the test, outside any execution")

    outcomes = run_executions([str(first.pk), str(second.pk)])

    assert outcomes == {str(first.pk): "succeeded", str(second.pk): "succeeded"}  # they met: concurrent
    for execution, tag in ((first, "alpha"), (second, "beta")):
        execution.refresh_from_db()
        lines = tagged(execution.log)
        assert {t for t, _ in lines} == {tag}, execution.log
        assert [what for _, what in lines if what.startswith("line")] == [f"line {i}" for i in range(LINES)]
        assert [what for _, what in lines if what.startswith("library")] == [
            f"library call {i}" for i in range(0, LINES, 5)
        ]
        assert "outside any execution" not in execution.log


@pytest.mark.django_db
def test_a_long_log_is_cut_at_the_limit_with_a_note(settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "HANDLER_LOG_LIMIT": 600}
    execution = pending("logs.long", tag="long", lines=50, pause=0)

    assert run_executions([str(execution.pk)])[str(execution.pk)] == "succeeded"

    execution.refresh_from_db()
    kept, note = execution.log.rsplit("\n[log cut at 600 bytes: ", 1)
    assert len(kept.encode()) <= 600
    assert re.fullmatch(r"\d+ more bytes were not kept\]\n", note)
    assert tagged(kept)[0] == ("long", "line 0")


def test_a_cut_never_splits_a_character():
    capture = handler_logs.Capture(limit=5)
    capture.write("ab")
    capture.write("ééé")  # 6 bytes: 3 fit, the second é would be split
    assert capture.text.startswith("abé\n[log cut at 5 bytes: 4 more bytes")


@pytest.mark.django_db
def test_the_log_is_in_the_api_answer_and_the_admin_page():
    execution = pending("logs.shown", tag="shown", lines=3)
    run_executions([str(execution.pk)])
    execution.refresh_from_db()
    assert "shown line 2" in execution.log

    body = APIClient().get(f"/scheduler/executions/{execution.pk}").json()
    assert body["log"] == execution.log

    admin = get_user_model().objects.create_superuser("logs-admin", "a@example.com", "pw")
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/django_scheduler_api/execution/{execution.pk}/change/").content.decode()
    assert "shown line 2" in page and "field-log_pretty" in page


@pytest.mark.django_db
def test_a_failure_keeps_its_log_and_the_traceback():
    job = make_job("logs.fail", handler="tests.fail")
    now = timezone.now()
    execution = Execution.objects.create(
        job=job, handler=job.handler, trigger="manual", scheduled_fire_time=now, fire_time=now
    )
    run_executions([str(execution.pk)])
    execution.refresh_from_db()
    assert execution.status == "failed"
    assert f"Execution {execution.pk} of job logs.fail failed." in execution.log
    assert "RuntimeError: this handler always fails" in execution.log


def run_child(mode: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tests.observe.logging_child", mode]
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=root)
    assert done.returncode == 0, done.stderr
    return done


def test_capturing_leaves_what_the_projects_logging_writes_as_it_was():
    """In a fresh process with a project's handlers (root at WARNING, a logger inheriting it, a
    logger at INFO of its own): installing the capture lowers the root to INFO, yet every handler
    writes exactly what it wrote before, and the capture gets the INFO line."""
    result = json.loads(run_child("configured").stdout.splitlines()[-1])
    assert result["after"] == result["before"]
    assert "INFO TAG chatty INFO" in result["before"]["chatty"]  # the level of its own still counts
    assert "INFO" not in result["before"]["app"]
    assert result["root"] == logging.INFO
    assert "INFO app: captured from app" in result["captured"]
    assert "below the capture level" not in result["captured"]


def test_a_record_no_handler_takes_still_reaches_stderr():
    """Without any handler, Python prints warnings to stderr (``logging.lastResort``); the capture's
    own handler on the root logger must not silence them."""
    stderr = run_child("unconfigured").stderr
    assert "unhandled before" in stderr and "unhandled after" in stderr
    assert "info after" not in stderr
