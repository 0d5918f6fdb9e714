"""Misfires in the metrics: a fire dropped by the job's misfire policy is counted wherever it is
dropped (the claim, where ``do_nothing`` records no execution; the outbox; a worker), once, and
``scheduler_misfires_total`` says so beside the late fires that ran."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_scheduler_api.engine import dispatch, store, worker
from django_scheduler_api.models import DroppedMisfires, Execution
from tests.factories import make_due_job
from tests.observe.test_metrics import by_label, scrape

THRESHOLD = timedelta(seconds=60)


def tally() -> dict[str, int]:
    return dict(DroppedMisfires.objects.values_list("job_id", "count"))


@pytest.mark.django_db
def test_a_do_nothing_misfire_records_no_execution_but_is_counted():
    now = timezone.now()
    missed = now - timedelta(minutes=10)
    make_due_job("mis.nothing", due=missed, cron="0 * * * * ?", misfire_policy="do_nothing")
    make_due_job("mis.proceed", due=missed, cron="0 * * * * ?", misfire_policy="fire_and_proceed")

    store.claim_due(now, node="t", limit=10, threshold=THRESHOLD)

    assert not Execution.objects.filter(job_id="mis.nothing").exists()
    assert tally() == {"mis.nothing": 1}
    row = DroppedMisfires.objects.get(job_id="mis.nothing")
    assert (row.last_fire_time, row.last_dropped_at) == (missed, now)
    assert Execution.objects.get(job_id="mis.proceed").trigger == Execution.Trigger.MISFIRE

    # Late again: the same row counts on; an on-time claim adds nothing.
    later = now + timedelta(minutes=30)
    store.claim_due(later, node="t", limit=10, threshold=THRESHOLD)
    store.claim_due(later + timedelta(minutes=1), node="t", limit=10, threshold=THRESHOLD)
    assert tally() == {"mis.nothing": 2}

    samples = scrape()
    fired = Execution.objects.filter(trigger=Execution.Trigger.MISFIRE).count()
    assert by_label(samples, "scheduler_misfires_total", "outcome") == {"dropped": 2, "fired": fired}
    assert fired == 2


def record(job, at) -> Execution:
    return Execution.objects.create(
        job=job, handler=job.handler, trigger="schedule", scheduled_fire_time=at, fire_time=at
    )


@pytest.mark.django_db
def test_misfires_dropped_by_the_outbox_are_counted_once():
    now = timezone.now()
    job = make_due_job("mis.outbox", due=None, misfire_policy="do_nothing")
    late = [record(job, now - timedelta(minutes=m)) for m in (5, 4)]

    for _ in range(2):  # a second look finds them skipped already: not counted again
        look = timezone.now() + timedelta(seconds=1)
        store.send_outbox(look, grace=timedelta(0), limit=10, send=dispatch.send, threshold=THRESHOLD)

    assert {e.status for e in Execution.objects.filter(pk__in=[e.pk for e in late])} == {"skipped"}
    assert tally() == {"mis.outbox": 2}
    assert DroppedMisfires.objects.get().last_fire_time == late[1].scheduled_fire_time
    assert by_label(scrape(), "scheduler_misfires_total", "outcome")["dropped"] == 2


@pytest.mark.django_db
def test_a_misfire_dropped_by_a_worker_is_counted(settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "MISFIRE_THRESHOLD": 60}
    job = make_due_job("mis.worker", due=None, handler="tests.now")
    late = record(job, timezone.now() - timedelta(minutes=2))

    assert worker.run_execution(str(late.id)) == Execution.Status.SKIPPED
    assert worker.run_execution(str(late.id)) == worker.NOT_QUEUED  # delivered twice: counted once

    assert tally() == {"mis.worker": 1}
