"""The django-q2 task that runs one execution: outcomes, idempotence, and a real worker."""

from __future__ import annotations

import pytest
from django.utils import timezone

from django_scheduler_api.execution import enqueue, run_execution
from django_scheduler_api.models import Execution, Job
from tests.support import wait_for


def make_execution(handler: str = "tests.echo", data: dict | None = None) -> Execution:
    job = Job.objects.create(id=f"t.{handler}", group="t", name=handler, handler=handler)
    now = timezone.now()
    return Execution.objects.create(
        job=job,
        handler=handler,
        trigger=Execution.Trigger.MANUAL,
        scheduled_fire_time=now,
        fire_time=now,
        data=data or {},
    )


def finished(execution: Execution) -> Execution:
    execution.refresh_from_db()
    return execution


@pytest.mark.django_db
def test_success_records_result_times_and_duration():
    execution = make_execution(data={"n": 1})
    assert run_execution(str(execution.id)) == Execution.Status.SUCCEEDED
    execution = finished(execution)
    assert execution.status == Execution.Status.SUCCEEDED
    assert execution.result["data"] == {"n": 1}
    assert execution.result["trigger"] == "manual"
    assert execution.started_at <= execution.finished_at
    assert execution.duration_ms is not None and execution.error is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("handler", "message"),
    [
        ("tests.fail", "RuntimeError: this handler always fails"),
        ("tests.unserialisable", "not JSON-serialisable"),
        ("tests.exit", "SystemExit: 3"),
        ("tests.nobody", "Unknown handler 'tests.nobody'"),
    ],
)
def test_failures_are_recorded_not_raised(handler, message):
    execution = make_execution(handler)
    assert run_execution(str(execution.id)) == Execution.Status.FAILED
    execution = finished(execution)
    assert execution.status == Execution.Status.FAILED
    assert message in execution.error
    assert execution.result is None
    assert execution.finished_at is not None


@pytest.mark.django_db
def test_a_second_delivery_does_not_run_the_handler_again():
    execution = make_execution()
    run_execution(str(execution.id))
    first = finished(execution).finished_at
    assert run_execution(str(execution.id)) == "not-queued"
    assert finished(execution).finished_at == first


@pytest.mark.django_db
def test_a_cancelled_execution_never_runs():
    execution = make_execution()
    Execution.objects.filter(pk=execution.pk).update(status=Execution.Status.CANCELLED)
    assert run_execution(str(execution.id)) == "not-queued"
    assert finished(execution).started_at is None


@pytest.mark.django_db
def test_enqueue_in_sync_mode_runs_and_marks_the_outbox_entry_done():
    execution = make_execution()
    assert enqueue([execution]) == 1
    execution = finished(execution)
    assert execution.status == Execution.Status.SUCCEEDED
    assert execution.enqueued_at is not None


@pytest.mark.integration
def test_a_real_qcluster_worker_runs_executions(qcluster):
    ok, bad = make_execution(data={"x": 2}), make_execution("tests.fail")
    enqueue([ok, bad])
    wait_for(lambda: finished(ok).is_finished and finished(bad).is_finished)
    assert finished(ok).status == Execution.Status.SUCCEEDED
    assert finished(ok).result["data"] == {"x": 2}
    assert finished(bad).status == Execution.Status.FAILED
    # The worker survived the failing handler: it still runs the next one.
    again = make_execution("tests.sleep", data={"seconds": 0})
    Execution.objects.filter(pk=again.pk).update(job_id="t.tests.echo")
    enqueue([again])
    wait_for(lambda: finished(again).status == Execution.Status.SUCCEEDED)
