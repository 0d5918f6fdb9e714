"""The Scheduler: a pass fires what is due, heartbeats, sleeps until the next fire, survives DB errors."""

from __future__ import annotations

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone
from django_q.conf import Conf

from django_scheduler_api import services
from django_scheduler_api.engine import Scheduler, store, worker
from django_scheduler_api.engine.heartbeat import Heartbeat, forget_dead_nodes
from django_scheduler_api.models import Execution, Job, SchedulerNode
from tests.engine.helpers import executions, reload
from tests.factories import make_due_job
from tests.support import run_tasks

pytestmark = pytest.mark.django_db


def test_a_pass_fires_due_jobs_and_announces_the_node():
    now = timezone.now()
    # Next fire on 1 January: a pass slowed past the next second (a busy machine) still fires once.
    make_due_job(due=now - timedelta(milliseconds=5), cron="0 0 0 1 1 ?")
    scheduler = Scheduler("test:loop")
    stats = scheduler.tick()
    assert (stats.claimed, stats.sent) == (1, 1)
    assert [e.status for e in executions()] == ["queued"]  # recorded as sent by the claim
    assert run_tasks() == 1
    assert [e.status for e in executions()] == ["succeeded"]
    assert SchedulerNode.objects.get(pk="test:loop").last_seen >= now


def test_run_once_stops_and_removes_its_node_row():
    scheduler = Scheduler("test:once")
    scheduler.start()
    assert SchedulerNode.objects.filter(pk="test:once").exists()
    scheduler.run(once=True)
    assert not SchedulerNode.objects.filter(pk="test:once").exists()


def test_stop_ends_the_sleep_at_once(monkeypatch):
    scheduler = Scheduler("test:stop")
    ticked = threading.Event()
    monkeypatch.setattr(scheduler, "tick", lambda: ticked.set() or "ticked")
    monkeypatch.setattr(scheduler, "sleep_time", lambda: 3600.0)
    monkeypatch.setattr(scheduler.heartbeat, "stop", lambda: None)
    thread = threading.Thread(target=scheduler.run)
    thread.start()
    ticked.wait(30)
    scheduler.stop()  # what the SIGTERM / SIGINT handler calls
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_sleep_lasts_until_the_next_fire_but_at_most_max_sleep():
    # A stopped clock: the answers cannot depend on how long the machine takes between the lines.
    now = timezone.now()
    scheduler = Scheduler("test:sleep", clock=lambda: now)
    knobs = {"MAX_SLEEP": 0.5, "HEARTBEAT_INTERVAL": 3600, "LOOKAHEAD": 0, "LOOKAHEAD_MAX": 0}
    poll = Conf.POLL  # the ORM broker's workers poll: a fire is handed over that much early
    with override_settings(SCHEDULER_API=knobs):
        scheduler.tick()  # the next heartbeat an hour away: it does not shorten the sleep
        assert scheduler.sleep_time() == 0.5  # nothing planned
        make_due_job(due=now + timedelta(seconds=0.3))
        assert scheduler.sleep_time() == pytest.approx(0.3 - poll)
        with override_settings(SCHEDULER_API={**knobs, "LOOKAHEAD": 0.15}):
            assert scheduler.sleep_time() == pytest.approx(0.15 - poll)  # wakes early to hand it over
        Job.objects.update(next_fire_time=now - timedelta(seconds=1))
        assert scheduler.sleep_time() == 0.0


def test_a_fire_within_the_lookahead_is_handed_over_early_and_starts_at_its_instant(settings):
    # Five seconds ahead, within a lookahead of six: the pass is done long before the instant,
    # however busy the machine.
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "LOOKAHEAD": 6}
    due = timezone.now() + timedelta(seconds=5)
    make_due_job(due=due, cron="0 0 0 * * ?", handler="tests.now")
    stats = Scheduler("test:ahead").dispatch_due()
    assert stats.sent == 1
    assert run_tasks() == 1  # the worker waits for the instant
    (execution,) = executions()
    assert execution.scheduled_fire_time == due and execution.fire_time == due
    assert execution.enqueued_at < due  # claimed by the worker ahead of the instant
    # never early; started_at is the handler's real start, the planned instant stays in fire_time
    assert execution.started_at >= due and execution.result["now"] >= due.timestamp()


def test_a_database_error_is_logged_and_the_next_pass_goes_on(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise OperationalError("connection lost")

    closed = []
    fake_connection = SimpleNamespace(close=lambda: closed.append(True))
    monkeypatch.setattr("django_scheduler_api.engine.loop.connection", fake_connection)
    scheduler = Scheduler("test:flaky")
    # Due now, next in 2099: one fire however long the two passes take (an every-second job fired
    # twice when they straddled a second).
    make_due_job(due=timezone.now(), cron="0 0 0 1 1 ? 2099")
    with monkeypatch.context() as patch:
        patch.setattr(store, "claim_due", broken)
        assert scheduler._guarded(scheduler.tick) is None
    assert "OperationalError" in caplog.text and closed == [True]
    assert scheduler._guarded(scheduler.tick).sent == 1


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("do_nothing", []), ("fire_and_proceed", [("misfire", "succeeded")])],
)
def test_fires_missed_while_paused_are_misfires_on_resume(policy, expected):
    missed = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    make_due_job(due=missed, cron="0 * * * * ?", misfire_policy=policy)
    services.pause_jobs(["e.job"])
    Scheduler("test:paused").tick()
    assert executions() == []  # paused: nothing fires, next_fire_time is kept
    services.resume_jobs(["e.job"])
    resumed = timezone.now()
    Scheduler("test:resumed").tick()
    run_tasks()
    assert [(e.trigger, e.status) for e in executions()] == expected
    if expected:
        assert executions()[0].scheduled_fire_time == missed
    # planned past the pass (compared with its start: a later "now" may already be past that minute)
    assert reload(Job.objects.get()).next_fire_time > resumed


def test_a_short_pause_catches_up_within_the_threshold():
    missed = timezone.now().replace(microsecond=0) - timedelta(seconds=3)
    make_due_job(due=missed, state=Job.State.PAUSED)
    services.resume_jobs(["e.job"])
    Scheduler("test:short").tick()
    assert len(executions()) >= 3
    assert {e.trigger for e in executions()} == {"schedule"}


def test_heartbeat_rows_live_update_and_age_out():
    now = timezone.now()
    beat = Heartbeat("test:hb")
    beat.beat(now)
    beat.beat(now + timedelta(seconds=1))
    node = SchedulerNode.objects.get(pk="test:hb")
    assert node.last_seen == now + timedelta(seconds=1) and node.pid > 0
    assert [n.name for n in services.live_nodes(now + timedelta(seconds=2))] == ["test:hb"]
    assert forget_dead_nodes(now + timedelta(hours=1), timedelta(seconds=30)) == 1
    beat.beat(now)  # a purged node comes back on its next beat
    beat.stop()
    assert not SchedulerNode.objects.exists()


def test_maintenance_marks_lost_and_prunes(settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "EXECUTION_TIMEOUT": 60, "EXECUTION_RETENTION": 0}
    job = make_due_job(due=None)
    long_ago = timezone.now() - timedelta(hours=1)
    Execution.objects.create(
        job=job, handler="tests.echo", trigger="schedule", status="running",
        scheduled_fire_time=long_ago, fire_time=long_ago, started_at=long_ago,
    )  # fmt: skip
    stats = Scheduler("test:maint").tick()
    assert stats.lost == 1
    assert Execution.objects.count() == 0 or stats.pruned == 0  # pruned now or next sweep


@pytest.fixture
def handover(monkeypatch, settings):
    """A scheduler as ``run_scheduler`` runs it on a stopped clock, with the ORM broker of the
    tests (``poll`` 0.05 s)."""
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "LOOKAHEAD": 0.1, "LOOKAHEAD_MAX": 2.0}
    now = timezone.now()
    return SimpleNamespace(scheduler=Scheduler("test:lead", clock=lambda: now), now=now, base=0.1 + Conf.POLL)


def test_the_lead_is_the_lookahead_plus_a_polling_broker_s_poll_when_few_fires_are_due(handover):
    assert handover.scheduler.lead() == pytest.approx(handover.base)  # nothing planned: no count
    make_due_job(due=handover.now + timedelta(seconds=1))
    assert handover.scheduler.lead() == pytest.approx(
        handover.base + 2 / 2000
    )  # one fire, first pace, margin


def test_a_crowd_of_fires_is_handed_over_as_early_as_sending_it_takes_at_most_lookahead_max(
    handover, settings
):
    due = handover.now + timedelta(seconds=1)
    Job.objects.bulk_create(
        [Job(id=f"crowd.{i}", group="crowd", name=str(i), handler="tests.echo", cron_expression="0 0 0 * * ?",
             next_fire_time=due) for i in range(1000)]
    )  # fmt: skip
    assert handover.scheduler.lead() == pytest.approx(handover.base + 2 * 1000 / 2000)
    handover.scheduler._measure_pace(4000, 1.0)  # a pass sent 4,000 fires a second
    assert handover.scheduler.lead() == pytest.approx(handover.base + 2 * 1000 / 3000)
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "LOOKAHEAD_MAX": 0.2}
    assert handover.scheduler.lead() == pytest.approx(handover.base)  # 1 s away: beyond the window
    Job.objects.update(next_fire_time=handover.now + timedelta(seconds=0.3))
    assert handover.scheduler.lead() == pytest.approx(handover.base + 0.2)
    Job.objects.update(next_fire_time=handover.now + timedelta(seconds=30))  # not soon: not counted
    assert handover.scheduler.lead() == pytest.approx(handover.base)


def test_a_pass_that_sends_few_fires_does_not_change_the_pace(handover):
    handover.scheduler._measure_pace(10, 0.001)
    assert handover.scheduler._pace == 2000


def _hand_over_early(job_id: str, due, now):
    """A fire of ``job_id`` claimed and recorded ahead of its instant ``due``, as a pass does."""
    claim = store.claim_due(due, node="test:early", limit=10, threshold=timedelta(seconds=60))
    (execution,) = [e for e in claim.to_send if e.job_id == job_id]
    assert execution.fire_time == due > now
    return execution


def test_a_pause_takes_back_a_fire_handed_over_early_that_no_worker_has_claimed():
    now = timezone.now()
    due, before = now + timedelta(seconds=30), now - timedelta(days=1)
    make_due_job(due=due, cron="0 0 0 * * ?", previous_fire_time=before)
    early = _hand_over_early("e.job", due, now)
    retry = Execution.objects.create(
        job_id="e.job", handler="tests.echo", trigger=Execution.Trigger.RETRY, attempt=2,
        first_execution=early, scheduled_fire_time=due, fire_time=due + timedelta(seconds=5),
    )  # fmt: skip
    services.pause_jobs(["e.job"])
    job = Job.objects.get()
    # as if never claimed: the fire is missed while paused, judged by the misfire policy on resume
    assert (job.next_fire_time, job.previous_fire_time) == (due, before)
    assert list(Execution.objects.values_list("pk", flat=True)) == [retry.pk]  # a retry waits
    assert worker.run_executions([str(early.pk)]) == {str(early.pk): worker.NOT_QUEUED}


def test_a_fire_a_worker_has_claimed_is_not_taken_back_by_a_pause():
    now = timezone.now()
    due = now + timedelta(seconds=30)
    make_due_job(due=due, cron="0 0 0 * * ?")
    early = _hand_over_early("e.job", due, now)
    store.claim_executions([early.pk], now=now)  # the worker's claim, CLAIM_AHEAD before the instant
    services.pause_jobs(["e.job"])
    assert reload(early).status == Execution.Status.RUNNING
    assert Job.objects.get().next_fire_time > due  # the claim's, kept


@pytest.mark.django_db(transaction=True)
@override_settings(SCHEDULER_API={"CLAIM_BATCH_SIZE": 5, "DISPATCH_THREADS": 3})
def test_a_crowd_is_claimed_by_several_threads_each_fire_once(monkeypatch):
    """PostgreSQL and MariaDB: a first claim that comes back full starts ``DISPATCH_THREADS``
    claiming threads, whose claims skip each other's rows; every due job fires once, and the counts
    of every thread add up in the pass's."""
    from django.db import connection

    from django_scheduler_api.engine import dispatch

    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip(f"{connection.vendor}: claims by one thread at a time (no rows to skip)")
    due = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    for i in range(53):
        make_due_job(f"e.crowd{i:02d}", due=due, cron="0 0 0 1 1 ?")
    claimers, claim_due = set(), store.claim_due

    def recording_claim(*args, **kwargs):
        claimers.add(threading.get_ident())
        return claim_due(*args, **kwargs)

    monkeypatch.setattr(store, "claim_due", recording_claim)
    broker = dispatch.broker()
    broker.purge_queue()
    try:
        stats = Scheduler("test:threads").dispatch_due()
        assert (stats.claimed, stats.sent) == (53, 53)
        assert len(claimers) == 3  # this thread and two others
        fired = Execution.objects.values_list("job_id", flat=True)
        assert sorted(fired) == [f"e.crowd{i:02d}" for i in range(53)]  # each job once
        assert not Job.objects.filter(next_fire_time__lte=due).exists()
    finally:
        broker.purge_queue()


@override_settings(SCHEDULER_API={"CLAIM_BATCH_SIZE": 2, "DISPATCH_THREADS": 2})
def test_a_crowd_is_claimed_by_one_thread_where_tasks_run_in_process(sync_mode):
    """django-q2's ``sync`` runs each task in the thread that sends it: no claiming threads then."""
    due = timezone.now() - timedelta(seconds=1)
    for i in range(5):
        make_due_job(f"e.sync{i}", due=due, cron="0 0 0 1 1 ?")
    scheduler = Scheduler("test:sync")
    assert scheduler._threads() == 1
    stats = scheduler.dispatch_due()
    assert (stats.claimed, stats.sent) == (5, 5)
    assert set(Execution.objects.values_list("status", flat=True)) == {"succeeded"}
