"""Faults survived: broker and database outages, frozen claims, late fires, dead workers, lost tasks.

Short versions of the chaos suite's scenarios (``bench/chaos``, ``make chaos``), one test per defect
it found, on the suite's database. None measures time: where something must happen "eventually" a
``wait_for`` bounds how long the test waits for it, never how fast it is.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from functools import partial
from types import SimpleNamespace

import pytest
import redis
from django.core.management import CommandError, call_command
from django.db import DatabaseError, OperationalError, connection, connections
from django.utils import timezone

from django_scheduler_api.engine import Scheduler, dispatch, errors, heartbeat, store, wakeup, worker
from django_scheduler_api.engine.heartbeat import WorkerHeartbeat
from django_scheduler_api.models import Execution, Job, WorkerNode
from tests.engine.helpers import executions
from tests.factories import make_due_job
from tests.support import postgres_suite_only, run_tasks, wait_for

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch):
    """The loop and the worker drop their connection after a database error; here that would end
    the test's transaction, so they drop nothing (what they do is checked by the outcome)."""
    keep = SimpleNamespace(close=lambda: None)
    monkeypatch.setattr("django_scheduler_api.engine.loop.connection", keep)
    monkeypatch.setattr("django_scheduler_api.engine.worker.connection", keep)


def later() -> datetime:
    """A moment after every row created so far (``created_at`` is set by the insert)."""
    return timezone.now() + timedelta(seconds=1)


def record(job: Job, scheduled, **fields) -> Execution:
    """An execution of ``job`` for the fire ``scheduled``, as a claim records it."""
    fields.setdefault("trigger", Execution.Trigger.SCHEDULE)
    return Execution.objects.create(
        job=job, handler=job.handler, scheduled_fire_time=scheduled, fire_time=scheduled, **fields
    )


def send_and_run(executions: list[Execution]) -> int:
    """``dispatch.send`` (through the broker), then what a worker does with the tasks."""
    sent = dispatch.send(executions)
    run_tasks()
    return sent


def status(execution: Execution) -> str:
    execution.refresh_from_db()
    return execution.status


# -- every external error is survivable ----------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [redis.exceptions.ConnectionError("Redis went away"), redis.exceptions.TimeoutError("timed out"),
     ConnectionRefusedError(111, "refused"), LookupError("any broker's own exception")],
)  # fmt: skip
def test_a_broker_error_leaves_the_fires_in_the_outbox_and_the_loop_goes_on(monkeypatch, caplog, error):
    make_due_job(due=timezone.now(), cron="0 0 0 * * ?")  # one fire, however long the passes take
    scheduler = Scheduler("test:broker-down")

    def broker_down(self):
        raise error

    with monkeypatch.context() as patch:
        patch.setattr(dispatch.Batch, "push", broker_down)
        assert scheduler._guarded(scheduler.tick) is None  # logged, not raised
    (execution,) = executions()
    assert execution.status == Execution.Status.QUEUED and execution.enqueued_at is None  # in the outbox
    assert type(error).__name__ in caplog.text
    assert scheduler._failures == 1
    # The broker is back: the next pass sends what it refused, without waiting for the outbox; and
    # counts it even when that pass also does its housekeeping (which once overwrote the count).
    scheduler._next_beat = 0.0
    assert scheduler._guarded(scheduler.tick).resent == 1
    assert run_tasks() == 1 and status(execution) == Execution.Status.SUCCEEDED


def test_back_off_doubles_up_to_a_cap():
    waits = [errors.backoff(n) for n in range(1, 9)]
    assert waits == sorted(waits) and waits[0] > 0 and waits[-1] == errors.BACKOFF_MAX
    assert errors.backoff(1000) == errors.BACKOFF_MAX


def test_failures_in_a_row_back_off_and_a_success_resets_them(monkeypatch):
    scheduler = Scheduler("test:backoff")
    flaky = iter([OperationalError("down"), OperationalError("down"), None])

    def step():
        failure = next(flaky)
        if failure:
            raise failure
        return "done"

    assert scheduler._guarded(step) is None and scheduler._guarded(step) is None
    assert scheduler._failures == 2
    assert scheduler._guarded(step) == "done" and scheduler._failures == 0


def test_a_programming_error_is_not_taken_for_an_outage():
    scheduler = Scheduler("test:bug")
    with pytest.raises(ZeroDivisionError):
        scheduler._guarded(lambda: 1 / 0)


def test_run_scheduler_ends_with_an_error_status_and_a_message_on_a_programming_error(monkeypatch):
    def bug(self):
        raise KeyError("a bug")

    monkeypatch.setattr(Scheduler, "tick", bug)
    with pytest.raises(CommandError, match="stopped by an unexpected error: KeyError"):
        call_command("run_scheduler", "--once", "--node-name", "test:bug")


def test_run_scheduler_waits_for_a_database_that_is_down_when_it_starts(monkeypatch):
    real_beat = heartbeat.Heartbeat.beat
    calls = []

    def beat(self, now):
        calls.append(now)
        if len(calls) < 3:
            raise OperationalError("the server is starting up")
        real_beat(self, now)

    monkeypatch.setattr(heartbeat.Heartbeat, "beat", beat)
    monkeypatch.setattr(errors, "BACKOFF_FIRST", 0.001)
    call_command("run_scheduler", "--once", "--node-name", "test:late-db")
    assert len(calls) >= 3  # tried until the database answered, then ran its pass


def test_the_listen_thread_survives_any_error_and_connects_again(monkeypatch):
    import psycopg

    attempts = []

    def connect(**params):
        attempts.append(params)
        raise (RuntimeError("unexpected") if len(attempts) == 1 else psycopg.OperationalError("refused"))

    monkeypatch.setattr(psycopg, "connect", connect)
    monkeypatch.setattr(errors, "BACKOFF_FIRST", 0.001)
    monkeypatch.setattr(errors, "BACKOFF_MAX", 0.001)
    monkeypatch.setattr(wakeup, "enabled", lambda: True)
    monkeypatch.setattr(connection, "get_connection_params", lambda: {})
    listener = wakeup.Listener(threading.Event())
    listener.start()
    try:
        wait_for(lambda: len(attempts) >= 3)
        assert listener._thread is not None and listener._thread.is_alive()
    finally:
        listener.stop()


@pytest.mark.django_db(transaction=True)
def test_a_worker_heartbeat_survives_a_database_error(monkeypatch):
    real_beat = WorkerHeartbeat.beat
    calls = []

    def beat(self, now):
        calls.append(now)
        if len(calls) == 1:
            raise OperationalError("connection lost")
        real_beat(self, now)

    monkeypatch.setattr(WorkerHeartbeat, "beat", beat)
    monkeypatch.setattr(errors, "BACKOFF_FIRST", 0.001)
    beating = WorkerHeartbeat("test-host:1").start()
    try:
        wait_for(lambda: WorkerNode.objects.filter(pk="test-host:1").exists())
    finally:
        beating.stop()
    assert len(calls) >= 2


# -- a claim is bounded in time; a blocked scheduler sleeps -----------------------------------------


def test_a_scheduler_finding_the_due_jobs_locked_sleeps_instead_of_spinning(monkeypatch, settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "MAX_SLEEP": 0.7, "HEARTBEAT_INTERVAL": 60}
    make_due_job(due=timezone.now() - timedelta(seconds=1))
    scheduler = Scheduler("test:blocked")
    scheduler._next_beat = float("inf")
    monkeypatch.setattr(store, "claim_due", lambda *args, **kwargs: store.Claim())  # all locked
    scheduler.dispatch_due()
    assert scheduler.sleep_time() == 0.7  # MAX_SLEEP, not 0 (the job is still due)


@pytest.mark.django_db(transaction=True)
def test_a_claim_frozen_while_holding_job_rows_is_ended_by_the_database(settings):
    """A scheduler frozen inside its claim (GC pause, SIGSTOP, partition) holds the job rows only
    for ``CLAIM_TIMEOUT``: PostgreSQL ends its session, rolls the claim back, another claims them."""
    postgres_suite_only("idle_in_transaction_session_timeout")
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "CLAIM_TIMEOUT": 0.5}
    now = timezone.now()
    make_due_job(due=now - timedelta(seconds=1))
    frozen, thaw, outcome = threading.Event(), threading.Event(), []

    def stuck_plan(*args, **kwargs):
        frozen.set()
        thaw.wait(120)  # "SIGSTOP": the transaction sits idle with the job row locked
        return real_plan(*args, **kwargs)

    def frozen_scheduler():
        try:
            store.claim_due(now, node="frozen", limit=10, threshold=HOUR)
        except DatabaseError as exc:
            outcome.append(exc)
        finally:
            connections.close_all()

    real_plan = store._plan
    store._plan = stuck_plan
    thread = threading.Thread(target=frozen_scheduler)
    thread.start()
    try:
        frozen.wait(30)
        store._plan = real_plan
        claims = wait_for(
            lambda: store.claim_due(now, node="healthy", limit=10, threshold=HOUR).jobs, timeout=60
        )
    finally:
        store._plan = real_plan
        thaw.set()
        thread.join(60)
    assert claims == 1
    assert outcome  # its session was ended: the frozen claim failed when it thawed
    assert {e.node for e in executions()} == {"healthy"}  # nothing of the frozen claim was kept


def test_claims_set_the_bounds_on_postgresql(settings):
    postgres_suite_only("SET LOCAL timeouts")
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "CLAIM_TIMEOUT": 3}
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        store.bound_transaction()
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        assert cursor.fetchone()[0] == "3s"
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "3s"


# -- the misfire rule holds on every path -----------------------------------------------------------


def test_a_claim_older_than_the_threshold_when_sent_is_a_misfire(settings, monkeypatch):
    """A scheduler frozen between its claim and the push: what it claimed is judged when sent."""
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "MISFIRE_THRESHOLD": 60}
    t = timezone.now().replace(microsecond=0)
    make_due_job(due=t)
    clock = SimpleNamespace(now=t)
    claim_due = store.claim_due

    def claim_then_freeze(*args, **kwargs):
        claim = claim_due(*args, **kwargs)
        clock.now = t + timedelta(minutes=2)  # frozen 2 minutes between the claim and the push
        return claim

    monkeypatch.setattr(store, "claim_due", claim_then_freeze)
    scheduler = Scheduler("test:thawed", clock=lambda: clock.now)
    stats = scheduler.dispatch_due()
    (execution,) = executions()
    assert (stats.claimed, stats.sent, stats.misfired) == (1, 0, 1)
    run_tasks()  # its task, made in the claim, finds the row skipped and runs nothing
    assert status(execution) == Execution.Status.SKIPPED and execution.error.startswith("Misfire")


@pytest.mark.parametrize(
    ("policy", "cron", "expected"),
    [
        ("do_nothing", "* * * * * ?", ["skipped", "skipped"]),
        ("fire_and_proceed", "* * * * * ?", ["succeeded", "skipped"]),  # one fire now, as the claim does
        ("do_nothing", "", ["succeeded", "succeeded"]),  # a one-shot's fire always runs
    ],
)
def test_the_outbox_judges_late_executions_by_the_jobs_misfire_policy(policy, cron, expected):
    now = timezone.now()
    job = make_due_job(due=None, cron=cron, misfire_policy=policy)
    late = [record(job, now - timedelta(minutes=m)) for m in (5, 4)]
    outbox = store.send_outbox(
        later(), grace=timedelta(seconds=0), limit=10, send=send_and_run, threshold=HOUR / 60
    )
    assert [status(e) for e in late] == expected
    assert outbox.misfired == expected.count("skipped")


def test_manual_triggers_in_the_outbox_run_however_late():
    now = timezone.now()
    job = make_due_job(due=None)
    manual = record(job, now - timedelta(minutes=5), trigger=Execution.Trigger.MANUAL)
    store.send_outbox(later(), grace=timedelta(seconds=0), limit=10, send=send_and_run, threshold=HOUR / 60)
    assert status(manual) == Execution.Status.SUCCEEDED


def test_a_worker_does_not_run_a_fire_later_than_the_threshold_under_do_nothing(settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "MISFIRE_THRESHOLD": 60}
    job = make_due_job(due=None, handler="tests.now")
    late = record(job, timezone.now() - timedelta(minutes=2))
    assert worker.run_execution(str(late.id)) == Execution.Status.SKIPPED
    late.refresh_from_db()
    assert late.result is None and late.started_at is None and late.error.startswith("Misfire")


def test_a_worker_runs_a_late_fire_under_fire_and_proceed(settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "MISFIRE_THRESHOLD": 60}
    job = make_due_job(due=None, handler="tests.now", misfire_policy="fire_and_proceed")
    late = record(job, timezone.now() - timedelta(minutes=2))
    assert worker.run_execution(str(late.id)) == Execution.Status.SUCCEEDED


# -- outcomes are not lost with the database ------------------------------------------------------


def test_an_outcome_the_database_dropped_is_written_again(monkeypatch, caplog):
    job = make_due_job(due=None, handler="tests.now")
    execution = record(job, timezone.now())
    real_write = store.record_outcomes
    writes = []

    def flaky_write(finished):
        writes.append(finished)
        if len(writes) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        real_write(finished)

    monkeypatch.setattr(store, "record_outcomes", flaky_write)
    monkeypatch.setattr(errors, "BACKOFF_FIRST", 0.001)
    assert worker.run_execution(str(execution.id)) == Execution.Status.SUCCEEDED
    assert len(writes) == 2 and status(execution) == Execution.Status.SUCCEEDED
    assert "trying again" in caplog.text


def test_a_handler_that_finished_is_recorded_even_if_it_was_taken_for_lost(monkeypatch):
    """During an outage its worker's heartbeat went silent and a scheduler marked it lost; the
    handler did finish, and the outcome written after the outage is the truth."""
    job = make_due_job(due=None, handler="tests.now")
    execution = record(job, timezone.now())
    real_write = store.record_outcomes

    def lost_meanwhile(finished):
        store.mark_lost(timezone.now() + 2 * HOUR, timeout=HOUR)  # the sweep's verdict
        assert status(execution) == Execution.Status.LOST
        real_write(finished)

    monkeypatch.setattr(store, "record_outcomes", lost_meanwhile)
    worker.run_execution(str(execution.id))
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED and execution.error is None


def test_a_cancelled_execution_keeps_its_status_when_an_outcome_arrives():
    job = make_due_job(due=None)
    execution = record(job, timezone.now(), status=Execution.Status.CANCELLED)
    store.record_outcomes(
        [(execution, {"status": Execution.Status.SUCCEEDED, "finished_at": timezone.now()})]
    )
    assert status(execution) == Execution.Status.CANCELLED


# -- dead workers and lost tasks are found in seconds --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_records_its_heartbeat_and_the_executions_it_claims():
    assert heartbeat.start_worker_heartbeat() is None  # not in a worker process: no heartbeat
    beating = heartbeat.start_worker_heartbeat(only_in_workers=False)  # as in a worker process
    try:
        wait_for(lambda: WorkerNode.objects.filter(pk=beating.name).exists())
        job = make_due_job(due=None, handler="tests.now")
        execution = record(job, timezone.now())
        worker.run_execution(str(execution.id))
        execution.refresh_from_db()
        assert execution.worker == beating.name == heartbeat.current_worker()
    finally:
        beating.stop()
        heartbeat._worker = None


def test_running_executions_of_a_silent_worker_become_lost_and_others_stay():
    now = timezone.now()
    timeout = timedelta(seconds=20)
    WorkerNode.objects.create(
        name="dead:1", hostname="h", pid=1, started_at=now - HOUR, last_seen=now - timeout * 2
    )
    WorkerNode.objects.create(name="alive:2", hostname="h", pid=2, started_at=now - HOUR, last_seen=now)
    job = make_due_job(due=None)
    running = partial(record, job, status=Execution.Status.RUNNING, started_at=now - timeout * 3)
    dead = running(now - timedelta(seconds=3), worker="dead:1")
    vanished = running(now - timedelta(seconds=2), worker="never-beat:3")  # no row at all
    alive = running(now - timedelta(seconds=1), worker="alive:2")
    unknown = running(now, worker="")  # a process without a heartbeat: EXECUTION_TIMEOUT decides
    assert store.mark_orphaned(now, worker_timeout=timeout) == 2
    assert [status(e) for e in (dead, vanished, alive, unknown)] == ["lost", "lost", "running", "running"]
    dead.refresh_from_db()
    assert "heartbeat" in dead.error


def test_a_fresh_claim_is_not_lost_before_its_worker_could_beat():
    now = timezone.now()
    job = make_due_job(due=None)
    fresh = record(job, now, status=Execution.Status.RUNNING, started_at=now, worker="new:9")
    assert store.mark_orphaned(now, worker_timeout=timedelta(seconds=20)) == 0
    assert status(fresh) == Execution.Status.RUNNING


def test_the_loop_finds_lost_workers_at_each_heartbeat_but_not_right_after_an_outage(settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "WORKER_TIMEOUT": 20, "MAINTENANCE_INTERVAL": 3600}
    now = timezone.now()
    job = make_due_job(due=None)
    orphan = record(job, now - HOUR, status=Execution.Status.RUNNING, started_at=now - HOUR, worker="dead:1")
    scheduler = Scheduler("test:orphans")
    scheduler._guarded(lambda: (_ for _ in ()).throw(OperationalError("outage")))
    scheduler._next_maintenance = float("inf")
    scheduler.tick()
    assert status(orphan) == Execution.Status.RUNNING  # workers get WORKER_TIMEOUT to check in again
    scheduler._judge_workers_after = 0.0
    scheduler._next_beat = 0.0
    assert scheduler.tick().lost == 1 and status(orphan) == Execution.Status.LOST


def test_a_task_the_broker_lost_is_sent_again_and_runs_once():
    now = timezone.now()
    job = make_due_job(due=None, handler="tests.now")
    ago = now - timedelta(seconds=30)
    sent_long_ago = record(job, ago, enqueued_at=ago)  # never claimed
    send = partial(
        store.send_outbox, now, grace=timedelta(seconds=10), limit=10, send=send_and_run, threshold=HOUR
    )
    assert send(unclaimed=False).sent == 0  # the broker's queue is long: it may still come
    assert send(unclaimed=True).sent == 1
    assert status(sent_long_ago) == Execution.Status.SUCCEEDED
    assert worker.run_execution(str(sent_long_ago.id)) == worker.NOT_QUEUED  # the old task, if it comes


def test_a_fire_handed_over_early_is_not_sent_again_while_it_waits_for_its_instant():
    """Its worker claims it just before its instant (docs/engine.rst, "Handing over early"), so
    until its instant is ``grace`` past, unclaimed is not lost, however long ago it was sent."""
    now = timezone.now()
    job = make_due_job(due=None, handler="tests.now")
    early = record(job, now + timedelta(seconds=2), enqueued_at=now - timedelta(seconds=30))
    send = partial(
        store.send_outbox, grace=timedelta(seconds=10), limit=10, send=send_and_run, threshold=HOUR
    )
    assert send(now, unclaimed=True).sent == 0 and status(early) == Execution.Status.QUEUED
    later = now + timedelta(seconds=13)  # its instant 11 s past: lost by the broker
    assert send(later, unclaimed=True).sent == 1 and status(early) == Execution.Status.SUCCEEDED
