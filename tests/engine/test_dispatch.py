"""Packing fires into django-q2 tasks, and the neighbours each fire carries for its handler."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_q.conf import Conf

from django_scheduler_api import services
from django_scheduler_api.engine import dispatch, store
from django_scheduler_api.engine.worker import run_execution
from django_scheduler_api.models import Execution
from tests.engine.helpers import executions, reload
from tests.factories import make_due_job
from tests.support import postgres_suite_only

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("count", "workers", "batch", "size"),
    [
        (100, 4, 25, 25),  # one task per worker
        (8, 4, 25, 2),  # few fires: still every worker
        (200, 4, 25, 50),  # a crowd (more than 4 x 25 threads): one task a worker
        (1000, 4, 25, 250),  # a crowd: one task a worker, run through its 25 threads
        (10000, 4, 25, 250),  # a larger crowd: tasks of at most 10 x TASK_BATCH_SIZE
        (1000, 4, 1, 1),  # TASK_BATCH_SIZE 1: a task per execution, even in a crowd
        (3, 8, 25, 1),  # more workers than fires
        (100, 4, 1, 1),  # TASK_BATCH_SIZE 1: a task per execution
    ],
)
def test_task_size_spreads_fires_over_the_workers(monkeypatch, count, workers, batch, size):
    monkeypatch.setattr(Conf, "WORKERS", workers)
    with override_settings(SCHEDULER_API={"TASK_BATCH_SIZE": batch}):
        assert dispatch.task_size(count) == size


def test_fires_sent_together_share_tasks_and_each_knows_its_task(monkeypatch):
    monkeypatch.setattr(Conf, "WORKERS", 2)
    t = timezone.now().replace(microsecond=0) - SECOND
    for i in range(5):
        make_due_job(f"e.job{i}", due=t)
    claim = store.claim_due(t, node="test:1", limit=100, threshold=timedelta(seconds=60))
    broker = dispatch.broker()
    broker.purge_queue()
    try:
        assert dispatch.send(claim.to_send) == 5
        assert broker.queue_size() == 2  # tasks of 3 and 2
        rows = Execution.objects.order_by("job_id")
        assert all(row.enqueued_at is not None for row in rows)
        assert sorted(
            list(rows.values_list("task_id", flat=True)).count(i) for i in {r.task_id for r in rows}
        ) == [
            2,
            3,
        ]
    finally:
        broker.purge_queue()


@override_settings(SCHEDULER_API={"TASK_BATCH_SIZE": 2})
def test_a_crowd_s_tasks_get_the_cluster_s_timeout_once_per_round_of_threads(monkeypatch):
    """A crowd's task runs its handlers in rounds of ``TASK_BATCH_SIZE`` threads: each round has
    the time a task of its own would have (django-q2's per-task ``timeout``)."""
    from django_q.signing import SignedPackage

    monkeypatch.setattr(Conf, "WORKERS", 1)
    monkeypatch.setattr(Conf, "TIMEOUT", 60)
    t = timezone.now().replace(microsecond=0) - SECOND
    for i in range(7):
        make_due_job(f"crowd.{i}", due=t)
    claim = store.claim_due(t, node="test:1", limit=100, threshold=timedelta(seconds=60))
    held = dispatch.HeldTasks(dispatch.broker())
    dispatch._make_tasks(claim.to_send, held, None)
    tasks = [SignedPackage.loads(package) for package in held.packages]
    # 7 fires, 1 worker, 2 threads: a crowd in one task of 7 (four rounds)
    assert [(len(task["args"][0]), task.get("timeout")) for task in tasks] == [(7, 240)]
    monkeypatch.setattr(Conf, "TIMEOUT", None)
    held = dispatch.HeldTasks(dispatch.broker())
    dispatch._make_tasks(claim.to_send, held, None)
    assert {SignedPackage.loads(package).get("timeout") for package in held.packages} == {None}


def test_a_claim_records_each_fire_with_the_fires_around_it():
    t = timezone.now().replace(microsecond=0) - 3 * SECOND
    job = make_due_job(due=t, previous_fire_time=t - SECOND)
    store.claim_due(t + 2 * SECOND, node="test:1", limit=10, threshold=timedelta(seconds=60))
    fires = executions()
    assert [f.scheduled_fire_time for f in fires] == [t, t + SECOND, t + 2 * SECOND]
    assert [f.previous_fire_time for f in fires] == [t - SECOND, t, t + SECOND]
    assert [f.next_fire_time for f in fires] == [t + SECOND, t + 2 * SECOND, t + 3 * SECOND]
    assert reload(job).next_fire_time == t + 3 * SECOND


def test_a_manual_trigger_carries_the_jobs_fire_times():
    t = timezone.now().replace(microsecond=0)
    make_due_job(due=t + SECOND, previous_fire_time=t - SECOND)
    (execution,) = services.trigger_jobs(["e.job"])
    assert (execution.previous_fire_time, execution.next_fire_time) == (t - SECOND, t + SECOND)


@pytest.mark.django_db(transaction=True)
def test_marking_sent_skips_rows_a_worker_is_claiming_and_the_claim_fills_them_in():
    """PostgreSQL: the scheduler never waits on a worker's row lock (nor deadlocks with it)."""
    postgres_suite_only("row locks")
    import psycopg

    t = timezone.now().replace(microsecond=0) - SECOND
    make_due_job("e.a", due=t)
    make_due_job("e.b", due=t)
    claim = store.claim_due(t, node="test:1", limit=10, threshold=timedelta(seconds=60))
    locked, free = claim.to_send
    settings = connection.settings_dict
    params = {"host": settings["HOST"] or "127.0.0.1", "port": settings["PORT"] or 5432}
    with psycopg.connect(dbname=settings["NAME"], user=settings["USER"], **params) as worker:
        table = Execution._meta.db_table
        worker.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [locked.pk])
        store.mark_sent([locked, free], timezone.now(), ["task-1", "task-1"])
        worker.rollback()
    assert Execution.objects.get(pk=free.pk).enqueued_at is not None
    assert Execution.objects.get(pk=locked.pk).enqueued_at is None
    run_execution(str(locked.pk))
    row = Execution.objects.get(pk=locked.pk)
    assert row.status == Execution.Status.SUCCEEDED and row.enqueued_at <= row.started_at  # set by the claim
