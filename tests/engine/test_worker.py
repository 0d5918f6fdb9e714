"""The django-q2 task that runs one execution: outcomes, idempotence, and a real worker."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from django_scheduler_api.engine.dispatch import enqueue
from django_scheduler_api.engine.worker import CLAIM_AHEAD, NOT_QUEUED, TASK, run_execution, run_executions
from django_scheduler_api.models import Execution
from tests.factories import make_execution, make_executions
from tests.support import run_tasks, wait_for


def finished(execution: Execution) -> Execution:
    execution.refresh_from_db()
    return execution


@pytest.mark.django_db
def test_success_records_result_times_and_duration():
    execution = make_execution(data={"n": 1}, trigger=Execution.Trigger.MANUAL)
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
    execution = make_execution(handler=handler)
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
    assert run_execution(str(execution.id)) == NOT_QUEUED
    assert finished(execution).finished_at == first


@pytest.mark.django_db
def test_a_cancelled_execution_never_runs():
    execution = make_execution()
    Execution.objects.filter(pk=execution.pk).update(status=Execution.Status.CANCELLED)
    assert run_execution(str(execution.id)) == NOT_QUEUED
    assert finished(execution).started_at is None


@pytest.mark.django_db
def test_enqueue_in_sync_mode_runs_and_marks_the_outbox_entry_done(sync_mode):
    execution = make_execution()
    assert enqueue([execution]) == 1
    execution = finished(execution)
    assert execution.status == Execution.Status.SUCCEEDED
    assert execution.enqueued_at is not None


@pytest.mark.integration
def test_a_real_qcluster_worker_runs_executions(qcluster):
    ok, bad = make_execution(data={"x": 2}), make_execution(handler="tests.fail")
    enqueue([ok, bad])
    wait_for(lambda: finished(ok).is_finished and finished(bad).is_finished)
    assert finished(ok).status == Execution.Status.SUCCEEDED
    assert finished(ok).result["data"] == {"x": 2}
    assert finished(bad).status == Execution.Status.FAILED
    # The worker survived the failing handler: it still runs the next one.
    again = make_execution(handler="tests.sleep", data={"seconds": 0})
    Execution.objects.filter(pk=again.pk).update(job_id="t.tests.echo")
    enqueue([again])
    wait_for(lambda: finished(again).status == Execution.Status.SUCCEEDED)


# -- tasks of several executions ---------------------------------------------------------------------


def statuses(executions: list[Execution]) -> list[str]:
    return [finished(e).status for e in executions]


@pytest.mark.django_db
def test_a_task_of_several_starts_their_handlers_together():
    """Each handler waits for the others: they finish only if all run at the same time."""
    together = make_executions(3, "tests.rendezvous", {"parties": 3, "key": "together", "timeout": 20})
    outcomes = run_executions([str(e.id) for e in together])
    assert set(outcomes.values()) == {Execution.Status.SUCCEEDED}
    assert len({finished(e).result["thread"] for e in together}) == 3


@pytest.mark.django_db
def test_each_outcome_of_a_task_is_recorded_on_its_own_row():
    ok, failing, odd, exiting = (
        make_execution(handler="tests.echo", data={"n": 1}),
        make_execution(handler="tests.fail"),
        make_execution(handler="tests.unserialisable"),
        make_execution(handler="tests.exit"),
    )
    run_executions([str(e.id) for e in (ok, failing, odd, exiting)])
    assert statuses([ok, failing, odd, exiting]) == ["succeeded", "failed", "failed", "failed"]
    assert finished(ok).result["data"] == {"n": 1}
    assert "RuntimeError" in finished(failing).error and "not JSON-serialisable" in finished(odd).error
    assert "SystemExit" in finished(exiting).error and finished(exiting).traceback
    for execution in map(finished, (ok, failing, odd, exiting)):
        assert execution.started_at <= execution.finished_at and execution.duration_ms is not None


@pytest.mark.django_db
def test_a_task_runs_only_those_of_its_executions_still_queued():
    queued, cancelled, running = make_executions(3, "tests.echo")
    Execution.objects.filter(pk=cancelled.pk).update(status=Execution.Status.CANCELLED)
    Execution.objects.filter(pk=running.pk).update(status=Execution.Status.RUNNING)
    outcomes = run_executions([str(e.id) for e in (queued, cancelled, running)])
    assert outcomes == {
        str(queued.id): Execution.Status.SUCCEEDED,
        str(cancelled.id): NOT_QUEUED,
        str(running.id): NOT_QUEUED,
    }
    assert statuses([queued, cancelled, running]) == ["succeeded", "cancelled", "running"]
    assert finished(cancelled).started_at is None and finished(running).result is None


@pytest.mark.django_db
def test_a_task_delivered_twice_runs_nothing_the_second_time():
    batch = make_executions(3, "tests.echo")
    ids = [str(e.id) for e in batch]
    run_executions(ids)
    first = [finished(e).finished_at for e in batch]
    assert set(run_executions(ids).values()) == {NOT_QUEUED}
    assert [finished(e).finished_at for e in batch] == first


@pytest.mark.django_db
def test_a_claimed_execution_has_its_enqueued_time_even_if_the_scheduler_never_marked_it():
    execution = make_execution()
    assert execution.enqueued_at is None
    run_execution(str(execution.id))
    assert finished(execution).enqueued_at <= finished(execution).started_at  # the claim, then the start


@pytest.mark.django_db
def test_the_handler_context_comes_from_the_row():
    execution = make_execution(handler="tests.context")
    before = execution.scheduled_fire_time - timedelta(minutes=1)
    after = execution.scheduled_fire_time + timedelta(minutes=1)
    Execution.objects.filter(pk=execution.pk).update(previous_fire_time=before, next_fire_time=after)
    run_execution(str(execution.id))
    result = finished(execution).result
    assert (result["previous_fire_time"], result["next_fire_time"]) == (before.isoformat(), after.isoformat())


@pytest.mark.integration
def test_a_real_qcluster_worker_starts_the_handlers_of_a_task_together(qcluster):
    """Six fires sent together to two workers: two tasks of three, whose handlers meet."""
    together = make_executions(6, "tests.rendezvous", {"parties": 3, "key": "qcluster", "timeout": 30})
    enqueue(together)
    wait_for(lambda: all(finished(e).is_finished for e in together), timeout=60)
    assert set(statuses(together)) == {Execution.Status.SUCCEEDED}
    assert len({finished(e).task_id for e in together}) == 2


@pytest.mark.django_db
def test_without_update_returning_the_claim_takes_one_update_per_execution(monkeypatch):
    """MySQL and MariaDB cannot return rows from an UPDATE; the claim falls back to one each."""
    monkeypatch.setattr("django_scheduler_api.engine.store.update_returns_rows", lambda: False)
    queued, cancelled = make_executions(2, "tests.echo")
    Execution.objects.filter(pk=cancelled.pk).update(status=Execution.Status.CANCELLED)
    outcomes = run_executions([str(queued.id), str(cancelled.id)])
    assert outcomes == {str(queued.id): Execution.Status.SUCCEEDED, str(cancelled.id): NOT_QUEUED}
    assert finished(queued).enqueued_at <= finished(queued).started_at


@pytest.mark.integration
def test_an_execution_whose_task_fails_before_its_claim_is_sent_again(qcluster):
    """A real worker fails the task before any claim (an id it cannot read): nothing ran, so the
    maintenance sweep leaves the execution queued and the outbox sends it again, in a task of its
    own, which runs it (it waits neither EXECUTION_TIMEOUT nor for a lost verdict)."""
    from django_q.models import Failure
    from django_q.tasks import async_task

    from django_scheduler_api.engine import dispatch, store

    execution = make_execution()
    async_task(TASK, [str(execution.id), "not-an-id"], sync=False)
    wait_for(lambda: Failure.objects.filter(func=TASK).exists(), timeout=60)
    minute_ago = timezone.now() - timedelta(minutes=1)
    Execution.objects.filter(pk=execution.pk).update(enqueued_at=minute_ago, fire_time=minute_ago)
    since = timezone.now() - timedelta(minutes=5)
    assert store.mark_failed_tasks(timezone.now(), since=since, tasks=[TASK]) == 0
    assert finished(execution).status == Execution.Status.QUEUED
    grace, hour = timedelta(seconds=10), timedelta(hours=1)
    outbox = store.send_outbox(timezone.now(), grace=grace, limit=10, send=dispatch.send, threshold=hour)
    assert outbox.sent == 1
    wait_for(lambda: finished(execution).status == Execution.Status.SUCCEEDED, timeout=60)


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 3])
def test_a_task_handed_over_ahead_of_its_instant_starts_the_handlers_at_it(count):
    batch = make_executions(count, "tests.now")
    instant = time.time() + 0.3
    run_executions([str(e.id) for e in batch], start_at=instant)
    for execution in map(finished, batch):
        assert execution.status == Execution.Status.SUCCEEDED
        assert execution.result["now"] >= instant  # not one handler early
        # started_at: the handler's real start, at the instant or after, never the plan
        assert instant <= execution.started_at.timestamp() <= execution.result["now"]
        # claimed CLAIM_AHEAD before the instant (never the plan): until then it stays queued, so
        # a pause takes it back (docs/engine.rst, "Handing over early")
        assert instant - CLAIM_AHEAD <= execution.enqueued_at.timestamp() < execution.started_at.timestamp()


@pytest.mark.django_db
def test_a_task_picked_up_after_its_instant_starts_at_once():
    (execution,) = make_executions(1, "tests.now")
    before = time.time()
    run_executions([str(execution.id)], start_at=before - 5)
    assert finished(execution).started_at.timestamp() >= before


@pytest.mark.django_db
@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1, 2}])
def test_a_result_the_json_column_cannot_hold_fails_the_execution_with_the_reason(value):
    """Checked before the write: PostgreSQL and MariaDB refuse NaN in JSON, which would fail the
    whole task (and leave the execution to be lost) instead of this one execution."""
    from django_scheduler_api.registry import registry

    registry.register("tests.odd_result", lambda ctx: {"value": value})
    try:
        execution = make_execution(handler="tests.odd_result")
        assert run_execution(str(execution.id)) == Execution.Status.FAILED
    finally:
        registry.unregister("tests.odd_result")
    execution = finished(execution)
    assert execution.error.startswith("The handler's result is not JSON-serialisable:")
    assert execution.result is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["django_scheduler_api.execution.run_executions", "django_scheduler_api.execution.run_execution"]
)
def test_a_task_queued_under_a_former_path_still_runs(path):
    """Tasks an earlier release left in a broker name the deprecated module."""
    from django_q.tasks import async_task

    execution = make_execution()
    argument = [str(execution.id)] if path.endswith("s") else str(execution.id)
    async_task(path, argument)  # to the broker, as the earlier release sent it
    assert run_tasks() == 1
    assert finished(execution).status == Execution.Status.SUCCEEDED
