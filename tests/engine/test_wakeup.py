"""LISTEN/NOTIFY: a job created, changed or resumed wakes sleeping schedulers at once (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.test import override_settings

from django_scheduler_api import services
from django_scheduler_api.engine import Scheduler, wakeup
from django_scheduler_api.models import Execution
from tests.support import postgres_suite_only, run_tasks, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

DAILY = {"handler": "tests.echo", "cron_expression": "0 0 12 * * ?"}


@pytest.fixture
def listener():
    postgres_suite_only("LISTEN/NOTIFY")
    wake = threading.Event()
    listening = wakeup.Listener(wake)
    assert listening.start()
    assert listening.listening.wait(10)
    yield listening
    listening.stop()


def test_nothing_listens_when_turned_off_or_without_postgresql():
    with override_settings(SCHEDULER_API={"LISTEN_NOTIFY": False}):
        assert wakeup.Listener(threading.Event()).start() is False
        wakeup.notify_jobs_changed()  # sends nothing, fails nothing
    listening = wakeup.Listener(threading.Event())
    try:
        assert listening.start() is (connection.vendor == "postgresql")
    finally:
        listening.stop()


def test_saving_or_resuming_a_job_wakes_a_listener(listener):
    services.save_job("w.daily", DAILY)
    assert listener.wake.wait(10)
    listener.wake.clear()
    services.pause_jobs(["w.daily"])
    services.resume_jobs(["w.daily"])
    assert listener.wake.wait(10)


def test_a_change_rolled_back_wakes_nobody(listener):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.save_job("w.daily", DAILY)
        raise RuntimeError("rolled back")
    assert not listener.wake.wait(1)  # NOTIFY is delivered at commit only


def run_and_close(scheduler: Scheduler) -> None:
    """The scheduler loop on a thread, which closes its own database connection when it ends."""
    try:
        scheduler.run()
    finally:
        connection.close()


def test_a_sleeping_scheduler_fires_a_new_job_long_before_max_sleep():
    postgres_suite_only("LISTEN/NOTIFY")
    scheduler = Scheduler("test:wakeup")
    with override_settings(SCHEDULER_API={"MAX_SLEEP": 300, "HEARTBEAT_INTERVAL": 300}):
        scheduler.start()
        thread = threading.Thread(target=run_and_close, args=(scheduler,))
        thread.start()
        try:
            assert scheduler._listener.listening.wait(10)
            services.save_job("w.now", {"handler": "tests.echo"})  # no cron: fires once, now
            # handed to the broker (recorded as sent), long before MAX_SLEEP
            wait_for(
                lambda: Execution.objects.filter(job_id="w.now", enqueued_at__isnull=False).exists(),
                timeout=60,
            )
        finally:
            scheduler.stop()
            thread.join(30)
    assert not thread.is_alive()
    assert run_tasks() == 1 and Execution.objects.get(job_id="w.now").status == "succeeded"
