"""The scheduler's queries: claims, exactly-once recording, overlap, the outbox, lost and pruned rows."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from django.utils import timezone

from django_scheduler_api.engine import dispatch, store
from django_scheduler_api.models import Execution, Job
from tests.engine.helpers import executions, reload
from tests.factories import make_due_job
from tests.support import run_tasks

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
THRESHOLD = timedelta(seconds=60)


def claim(now, limit=100):
    return store.claim_due(now, node="test:1", limit=limit, threshold=THRESHOLD)


def base_time():
    return timezone.now().replace(microsecond=0) - timedelta(seconds=5)


def test_a_due_job_is_recorded_once_and_moves_to_its_next_fire():
    t = base_time()
    job = make_due_job(due=t, data={"k": 1})
    result = claim(t + timedelta(milliseconds=20))
    assert (result.jobs, result.recorded, len(result.to_send)) == (1, 1, 1)
    (execution,) = executions()
    assert execution.scheduled_fire_time == t
    assert execution.fire_time == t + timedelta(milliseconds=20)  # the real fire time
    assert (execution.trigger, execution.status, execution.node) == ("schedule", "queued", "test:1")
    assert execution.data == {"k": 1} and execution.enqueued_at is None
    job = reload(job)
    assert (job.next_fire_time, job.previous_fire_time) == (t + SECOND, t)


def test_jobs_not_due_paused_or_finished_are_not_claimed():
    t = base_time()
    make_due_job("e.later", due=t + timedelta(hours=1))
    make_due_job("e.paused", due=t, state=Job.State.PAUSED)
    make_due_job("e.done", due=None)
    assert claim(t + SECOND).jobs == 0
    assert Execution.objects.count() == 0


def test_a_stale_next_fire_time_never_records_a_fire_twice():
    """A job saved with an old next_fire_time (an API write racing a claim) is caught by the constraint."""
    t = base_time()
    job = make_due_job(due=t)
    claim(t)
    Job.objects.filter(pk=job.pk).update(next_fire_time=t, previous_fire_time=None)
    result = claim(t + SECOND)
    assert result.recorded == 1  # only t+1s is new; t was dropped by the unique constraint
    assert [e.scheduled_fire_time for e in executions()] == [t, t + SECOND]
    assert [e.pk for e in result.to_send] == [executions()[1].pk]


def test_a_claim_stores_every_value_as_given_whatever_its_characters():
    """The claim's insert and its update of fire times pass whole columns as text (PostgreSQL's array
    literals): quotes, backslashes, commas, braces and ``NULL`` as text must come back unchanged, and
    jobs with different new fire times (jitter) each get their own."""
    t = base_time()
    data = {"q": 'say "hi"', "b": "C:\\dir\\", "c": "a,b", "br": "{x}", "n": "NULL", "u": "é☃", "z": None}
    odd = ['e.q"uote', "e.back\\slash", "e.com,ma", "e.{brace}", "e.NULL"]
    for job_id in odd:
        make_due_job(job_id, due=t, data={**data, "id": job_id}, jitter=30, cron="0 * * * * ?")
    result = claim(t + SECOND)
    assert (result.jobs, result.recorded, len(result.to_send)) == (5, 5, 5)
    for job_id in odd:
        (execution,) = executions(job_id)
        job = Job.objects.get(pk=job_id)
        assert (execution.job_id, execution.data) == (job_id, {**data, "id": job_id})
        assert (execution.scheduled_fire_time, job.previous_fire_time) == (t, t)
        assert execution.next_fire_time == job.next_fire_time > t + SECOND
    assert len({Job.objects.get(pk=job_id).next_fire_time for job_id in odd}) > 1  # jitter differs


def test_claims_take_the_earliest_due_jobs_first_in_batches():
    t = base_time()
    for i in range(5):
        make_due_job(f"e.j{i}", due=t + i * SECOND, cron="0 0 0 * * ?")
    first = claim(t + 10 * SECOND, limit=2)
    assert first.jobs == 2
    assert set(Execution.objects.values_list("job_id", flat=True)) == {"e.j0", "e.j1"}
    assert claim(t + 10 * SECOND, limit=10).jobs == 3


def test_overlap_skip_records_a_skipped_fire_while_one_is_pending():
    t = base_time()
    make_due_job(due=t, overlap_policy=Job.OverlapPolicy.SKIP)
    first = claim(t)
    assert first.to_send and first.skipped == 0
    second = claim(t + SECOND)  # the first is still queued
    assert second.to_send == [] and second.skipped == 1
    skipped = executions()[1]
    assert skipped.status == Execution.Status.SKIPPED and skipped.finished_at is not None
    Execution.objects.filter(pk=executions()[0].pk).update(status=Execution.Status.SUCCEEDED)
    assert claim(t + 2 * SECOND).to_send  # idle again: fires


def test_overlap_allow_fires_while_another_execution_runs():
    t = base_time()
    make_due_job(due=t)
    claim(t)
    assert claim(t + SECOND).to_send


def test_send_runs_the_task_and_closes_the_outbox_entry():
    t = base_time()
    make_due_job(due=t)
    assert dispatch.send(claim(t).to_send) == 1
    (execution,) = executions()
    assert execution.enqueued_at is not None and execution.task_id
    assert execution.status == Execution.Status.QUEUED
    assert run_tasks() == 1
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED


def test_the_outbox_sends_executions_their_scheduler_never_sent():
    t = base_time()
    make_due_job(due=t)
    claim(t)  # recorded, then "the scheduler died" before sending
    grace = timedelta(seconds=10)
    now = timezone.now()
    outbox = partial(
        store.send_outbox, grace=grace, limit=10, send=dispatch.send, threshold=timedelta(hours=1)
    )
    assert outbox(now).sent == 0  # still in grace
    assert outbox(now + 2 * grace).sent == 1
    assert run_tasks() == 1
    (execution,) = executions()
    assert execution.status == Execution.Status.SUCCEEDED and execution.enqueued_at is not None
    assert outbox(now + 2 * grace).sent == 0


def test_executions_whose_worker_died_or_whose_task_was_lost_become_lost():
    t = base_time()
    job = make_due_job(due=None)
    old, recent = t - timedelta(hours=2), t
    rows = {
        "dead": dict(status="running", started_at=old, enqueued_at=old),
        "never_started": dict(status="queued", enqueued_at=old),
        "busy": dict(status="running", started_at=recent, enqueued_at=recent),
        "waiting": dict(status="queued", enqueued_at=recent),
        "unsent": dict(status="queued"),  # the outbox's, not lost
    }
    ids = {}
    for i, (name, fields) in enumerate(rows.items()):
        ids[name] = Execution.objects.create(
            job=job, handler="tests.echo", trigger="schedule",
            scheduled_fire_time=old + i * SECOND, fire_time=old, **fields,
        ).pk  # fmt: skip
    assert store.mark_lost(t, timeout=timedelta(hours=1)) == 2
    status = dict(Execution.objects.values_list("pk", "status"))
    assert {name for name, pk in ids.items() if status[pk] == "lost"} == {"dead", "never_started"}
    assert "EXECUTION_TIMEOUT" in Execution.objects.get(pk=ids["dead"]).error


def test_pruning_deletes_old_finished_executions_only():
    t = base_time()
    job = make_due_job(due=None)
    for i, (status, age) in enumerate([("succeeded", 40), ("failed", 40), ("queued", 40), ("succeeded", 1)]):
        execution = Execution.objects.create(
            job=job, handler="tests.echo", trigger="schedule", status=status,
            scheduled_fire_time=t + i * SECOND, fire_time=t,
        )  # fmt: skip
        Execution.objects.filter(pk=execution.pk).update(created_at=t - timedelta(days=age))
    assert store.prune(t, retention=timedelta(days=30), limit=100) == 2
    assert sorted(Execution.objects.values_list("status", flat=True)) == ["queued", "succeeded"]


def test_next_due_time_is_the_earliest_planned_fire():
    t = base_time()
    assert store.next_due_time() is None
    make_due_job("e.a", due=t + 5 * SECOND)
    make_due_job("e.b", due=t + 2 * SECOND)
    make_due_job("e.c", due=t, state=Job.State.PAUSED)
    assert store.next_due_time() == t + 2 * SECOND


def test_running_executions_of_a_task_django_q2_reports_failed_become_lost():
    from django_q.models import Task

    from django_scheduler_api.engine.worker import TASK

    t = timezone.now()
    job = make_due_job(due=None)
    rows = {
        status: Execution.objects.create(
            job=job, handler="tests.echo", trigger="manual", status=status, scheduled_fire_time=t, fire_time=t
        )
        for status in ("queued", "running", "succeeded")
    }
    ids = [str(row.pk) for row in rows.values()] + ["not-an-id"]
    Task.objects.create(
        id="f" * 32, name="scheduler:3 fires", func=TASK, args=(ids,), kwargs={}, started=t, stopped=t,
        result="OperationalError: connection lost", success=False,
    )  # fmt: skip
    assert store.mark_failed_tasks(t, since=t - timedelta(minutes=1), tasks=[TASK]) == 1
    status = dict(Execution.objects.values_list("pk", "status"))
    # The queued one ran nothing: the outbox sends it again (test_faults).
    assert [status[rows[s].pk] for s in ("queued", "running", "succeeded")] == ["queued", "lost", "succeeded"]
    error = Execution.objects.get(pk=rows["running"].pk).error
    assert error == "Lost: django-q2 reports that its task failed: OperationalError: connection lost"
    later = t + timedelta(minutes=1)
    assert store.mark_failed_tasks(t, since=later, tasks=[TASK]) == 0  # older failures are not read


@pytest.mark.django_db(transaction=True)
def test_a_claim_skips_a_job_another_scheduler_holds_instead_of_waiting():
    """PostgreSQL and MariaDB 10.6+: ``FOR UPDATE SKIP LOCKED``, so schedulers share due jobs without
    queueing behind each other's locks. SQLite has no row locks (one writer at a time)."""
    from django.db import connection

    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip(f"{connection.vendor} has no row locks to skip")
    t = base_time()
    make_due_job("e.held", due=t)
    make_due_job("e.free", due=t)
    other = connection.copy()  # a second connection: another scheduler in the middle of its claim
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            table, pk = (connection.ops.quote_name(name) for name in (Job._meta.db_table, "id"))
            cursor.execute(f"SELECT {pk} FROM {table} WHERE {pk} = %s FOR UPDATE", ["e.held"])
        assert [e.job_id for e in claim(t).to_send] == ["e.free"]
    finally:
        other.rollback()
        other.close()
    assert [e.job_id for e in claim(t).to_send] == ["e.held"]
