"""Sending through django-q2's brokers: one round trip per batch, no work before ``push``, and a
broker that fails never fails a request."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import partial

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.brokers import Broker
from django_q.conf import Conf
from django_q.signing import SignedPackage

from django_scheduler_api.engine import dispatch, store
from django_scheduler_api.engine.worker import TASK
from django_scheduler_api.models import Execution
from tests.engine.helpers import closed_port, use_broker
from tests.factories import make_due_job
from tests.support import require_redis

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)


def claimed(count: int) -> list[Execution]:
    """``count`` due fires, recorded and waiting to be sent."""
    t = timezone.now().replace(microsecond=0) - SECOND
    for i in range(count):
        make_due_job(f"e.job{i}", due=t)
    return store.claim_due(t, node="test:1", limit=100, threshold=timedelta(seconds=60)).to_send


@pytest.fixture
def configured(monkeypatch):
    """Choose django-q2's broker for this test, with two workers (tasks of at most half the fires)."""
    monkeypatch.setattr(Conf, "WORKERS", 2)
    return lambda **conf: use_broker(monkeypatch, **conf)


class ListBroker(Broker):
    """A django-q2 broker with no bulk path: keeps what it is given, in order."""

    received: list[str] = []

    def enqueue(self, task: str) -> int:
        self.received.append(task)
        return len(self.received)


def test_a_batch_is_one_insert_into_the_orm_brokers_queue(configured):
    from django_q.models import OrmQ

    broker = configured(ORM="default")
    executions = claimed(5)
    with CaptureQueriesContext(connection) as queries:
        assert dispatch.Batch(executions).push() == 5
    inserts = [q["sql"] for q in queries if q["sql"].startswith("INSERT") and OrmQ._meta.db_table in q["sql"]]
    assert len(inserts) == 1
    packages = [SignedPackage.loads(row.payload) for row in OrmQ.objects.filter(key=broker.list_key)]
    assert sorted(len(p["args"][0]) for p in packages) == [2, 3]  # 5 fires, 2 workers: tasks of 3 and 2
    assert {p["func"] for p in packages} == {TASK}


def test_a_batch_is_one_rpush_to_redis(configured, monkeypatch):
    require_redis()
    import redis

    url = "redis://127.0.0.1:6379/14"
    broker = configured(REDIS=url)
    broker.list_key = queue = f"django_q:test-{os.getpid()}:q"
    client = redis.Redis.from_url(url)
    client.delete(queue)
    commands, execute = [], broker.connection.execute_command
    monkeypatch.setattr(
        broker.connection, "execute_command", lambda *a, **kw: commands.append(a[0]) or execute(*a, **kw)
    )
    try:
        start = timezone.now() + SECOND
        assert dispatch.Batch(claimed(4), start_at=start).push() == 4
        tasks = [SignedPackage.loads(raw) for raw in client.lrange(queue, 0, -1)]
    finally:
        client.delete(queue)
    assert commands == ["RPUSH"]  # one command, one round trip, for the whole batch
    assert len(tasks) == 2
    # django-q2's options are apart from the task's own arguments: ``start_at`` goes to run_executions.
    assert all(task["kwargs"] == {"start_at": start.timestamp()} for task in tasks)
    assert all("broker" not in task and task["name"] == "scheduler:2 fires" for task in tasks)


def test_another_broker_gets_each_task_through_its_enqueue(configured):
    ListBroker.received = []
    configured(BROKER_CLASS=f"{__name__}.ListBroker")
    executions = claimed(3)
    dispatch.send(executions)
    tasks = [SignedPackage.loads(raw) for raw in ListBroker.received]
    assert [task["args"][0] for task in tasks] == [
        [str(e.pk) for e in executions[:2]],
        [str(executions[2].pk)],
    ]
    assert all(e.enqueued_at is not None and e.task_id for e in Execution.objects.all())


def test_making_a_batch_runs_nothing_even_with_sync_on(configured):
    configured(ORM="default", SYNC=True)
    executions = claimed(2)
    batch = dispatch.Batch(executions)
    assert set(Execution.objects.values_list("status", flat=True)) == {Execution.Status.QUEUED}
    assert batch.flush() == 2
    assert set(Execution.objects.values_list("status", flat=True)) == {Execution.Status.SUCCEEDED}


def test_a_broker_that_fails_leaves_the_executions_in_the_outbox(configured, caplog):
    """A real Redis client that cannot connect: ``enqueue`` logs, sends nothing and raises nothing;
    the outbox sends the executions once the broker is back."""
    configured(REDIS=f"redis://127.0.0.1:{closed_port()}/0")
    executions = claimed(2)
    assert dispatch.enqueue(executions) == 0
    assert "did not take 2 execution(s)" in caplog.text
    assert Execution.objects.filter(enqueued_at__isnull=True, status=Execution.Status.QUEUED).count() == 2
    import redis

    with pytest.raises(redis.ConnectionError):
        dispatch.send(executions)  # the scheduler's path raises: its loop decides
    configured(ORM="default")
    later = timezone.now() + timedelta(minutes=1)
    outbox = store.send_outbox(
        later, grace=SECOND, limit=10, send=dispatch.send, threshold=timedelta(hours=1)
    )
    assert outbox.sent == 2


def test_a_scheduler_records_its_fires_as_sent_with_their_tasks_ids_in_one_write(configured):
    """docs/engine.rst, "The outbox": the claim makes the tasks before it inserts the rows, so each
    row goes in with its task id and ``enqueued_at``; no UPDATE marks them after the push."""
    from django_q.models import OrmQ

    from django_scheduler_api.engine import Scheduler

    broker = configured(ORM="default")
    due = timezone.now().replace(microsecond=0) - SECOND
    for i in range(3):
        make_due_job(f"e.job{i}", due=due, cron="0 0 0 1 1 ?")
    with CaptureQueriesContext(connection) as queries:
        stats = Scheduler("test:prepared").dispatch_due()
    assert stats.sent == 3
    table = Execution._meta.db_table
    assert not [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and table in q["sql"]]
    rows = list(Execution.objects.all())
    assert all(row.enqueued_at is not None for row in rows)
    packages = [SignedPackage.loads(row.payload) for row in OrmQ.objects.filter(key=broker.list_key)]
    carried = {execution_id: package["id"] for package in packages for execution_id in package["args"][0]}
    assert {str(row.pk): row.task_id for row in rows} == carried  # each row names the task carrying it


def test_fires_recorded_as_sent_that_the_broker_refuses_are_recorded_as_not_sent(configured):
    """Redis down at the push: the rows lose their task id and ``enqueued_at`` (the outbox's, and
    ``unsent``, again) and the scheduler keeps them to push when the broker answers."""
    from django_scheduler_api.engine import Scheduler, errors

    configured(REDIS=f"redis://127.0.0.1:{closed_port()}/0")
    make_due_job("e.job", due=timezone.now() - SECOND, cron="0 0 0 1 1 ?")
    scheduler = Scheduler("test:refused")
    with pytest.raises(errors.transient_errors()):
        scheduler.dispatch_due()
    (row,) = Execution.objects.all()
    assert (row.status, row.enqueued_at, row.task_id) == (Execution.Status.QUEUED, None, "")
    assert [e.pk for e in scheduler._unpushed] == [row.pk]


def test_fires_recorded_as_sent_by_a_scheduler_that_died_before_the_push_are_sent_again(configured):
    """A crash between the claim's commit and the push leaves rows that look sent and no task: the
    outbox sends them once their instant is ``ENQUEUE_GRACE`` past and django-q2's queue is empty,
    as a task the broker lost."""
    configured(ORM="default")
    due = timezone.now().replace(microsecond=0) - SECOND
    make_due_job("e.job", due=due)
    batch = dispatch.Batch(start_at=due)
    store.claim_due(due, node="test:1", limit=10, threshold=timedelta(seconds=60), record_sent=batch.prepare)
    # ... and the process dies here: nothing pushed.
    (row,) = Execution.objects.all()
    assert row.enqueued_at is not None and row.task_id
    sent = []
    outbox = partial(store.send_outbox, grace=timedelta(seconds=10), limit=10, threshold=timedelta(hours=1))
    later = timezone.now() + timedelta(seconds=11)
    assert outbox(later, send=lambda e: sent.extend(e) or len(e), unclaimed=False).sent == 0  # queue long
    assert outbox(due + SECOND, send=lambda e: sent.extend(e) or len(e), unclaimed=True).sent == 0  # early
    assert outbox(later, send=dispatch.send, unclaimed=True).sent == 1
    assert Execution.objects.get().task_id != row.task_id  # a new task
