"""execution_started and execution_finished: sent by the process that runs the handler, in order,
with the execution as it is then (sync mode here, a real qcluster below)."""

from __future__ import annotations

import json
import os

import pytest
from django.utils import timezone

from django_scheduler_api import services, signals
from django_scheduler_api.engine.worker import run_executions
from django_scheduler_api.models import Execution, Job
from tests.observe.conftest import make_job
from tests.support import start_qcluster, wait_for


@pytest.fixture
def received():
    got = []

    def started(sender, execution, **kwargs):
        got.append(("started", execution.job_id, execution.status, None, execution.started_at is not None))

    def finished(sender, execution, status, **kwargs):
        stored = Execution.objects.get(pk=execution.pk)
        got.append(("finished", execution.job_id, stored.status, status, bool(execution.log)))

    signals.execution_started.connect(started, sender=Execution)
    signals.execution_finished.connect(finished, sender=Execution)
    yield got
    signals.execution_started.disconnect(started, sender=Execution)
    signals.execution_finished.disconnect(finished, sender=Execution)


def queued(job: Job, **data) -> Execution:
    now = timezone.now()
    return Execution.objects.create(
        job=job, handler=job.handler, trigger="manual", scheduled_fire_time=now, fire_time=now, data=data
    )


@pytest.mark.django_db
def test_started_then_finished_with_the_stored_status(received):
    ok = queued(make_job("sig.ok", handler="tests.log_lines"), tag="ok", lines=2)
    bad = queued(make_job("sig.bad", handler="tests.fail"))

    run_executions([str(ok.pk)])
    run_executions([str(bad.pk)])
    run_executions([str(ok.pk)])  # delivered twice: not run again, nothing sent

    assert received == [
        ("started", "sig.ok", "running", None, True),
        ("finished", "sig.ok", "succeeded", "succeeded", True),
        ("started", "sig.bad", "running", None, True),
        ("finished", "sig.bad", "failed", "failed", True),
    ]


@pytest.mark.django_db
def test_a_failing_receiver_does_not_fail_the_execution(received):
    def broken(sender, **kwargs):
        raise RuntimeError("receiver bug")

    signals.execution_started.connect(broken, sender=Execution)
    try:
        execution = queued(make_job("sig.robust", handler="tests.echo"))
        assert run_executions([str(execution.pk)])[str(execution.pk)] == "succeeded"
    finally:
        signals.execution_started.disconnect(broken, sender=Execution)
    assert [kind for kind, *_ in received] == ["started", "finished"]


@pytest.mark.integration
def test_a_real_worker_sends_the_execution_signals(transactional_db, monkeypatch, tmp_path):
    """A real qcluster (its test app writes every signal it sends to a file) runs a success and a
    failure; the services of this process send the pause and resume ones."""

    path = tmp_path / "signals.jsonl"
    cluster = start_qcluster(SCHEDULER_TEST_SIGNAL_FILE=str(path))
    try:
        make_job("real.ok", handler="tests.log_lines"), make_job("real.bad", handler="tests.fail")
        services.save_job("real.ok", {"data": {"tag": "real", "lines": 3}}, partial=True)
        executions = services.trigger_jobs(["real.ok", "real.bad"])
        wait_for(lambda: Execution.objects.filter(status__in=Execution.FINISHED).count() == 2, timeout=60)
        wait_for(lambda: path.exists() and len(path.read_text().splitlines()) >= 4, timeout=30)
    finally:
        cluster.stop()

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert {line["pid"] for line in lines} != {os.getpid()}  # sent by the worker processes
    by_execution = {}
    for line in lines:
        by_execution.setdefault(line["execution"], []).append(line)
    for execution in executions:
        stored = Execution.objects.get(pk=execution.pk)
        sent = by_execution[str(execution.pk)]
        assert [s["signal"] for s in sent] == ["execution_started", "execution_finished"]
        assert sent[0]["db_status"] == "running"
        assert sent[1]["status"] == sent[1]["db_status"] == stored.status
        assert sent[1]["log"] == stored.log
    assert Execution.objects.get(job_id="real.ok").status == "succeeded"
    assert "real line 2" in Execution.objects.get(job_id="real.ok").log
    assert Execution.objects.get(job_id="real.bad").status == "failed"
