"""The signals: job_paused and job_resumed from services (any front end), once per change, after
commit; execution_started and execution_finished from the worker (in this process here; a real qcluster
in test_worker_signals)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction

from django_scheduler_api import services, signals
from django_scheduler_api.models import Job
from tests.observe.conftest import make_job


@pytest.fixture
def received() -> Iterator[list[tuple[str, str, str]]]:
    """(signal, job id, state seen by the receiver in the database) for each signal received."""
    got: list[tuple[str, str, str]] = []

    def on(name):
        def receiver(sender, job, **kwargs):
            got.append((name, job.id, Job.objects.get(pk=job.pk).state))

        return receiver

    paused, resumed = on("paused"), on("resumed")
    signals.job_paused.connect(paused, sender=Job)
    signals.job_resumed.connect(resumed, sender=Job)
    yield got
    signals.job_paused.disconnect(paused, sender=Job)
    signals.job_resumed.disconnect(resumed, sender=Job)


@pytest.mark.django_db(transaction=True)
def test_pause_and_resume_send_one_signal_per_changed_job(received):
    make_job("s.one"), make_job("s.two"), make_job("s.three", state="paused")

    services.pause_jobs(["s.one", "s.two", "s.three"])  # s.three was paused already
    assert received == [("paused", "s.one", "paused"), ("paused", "s.two", "paused")]

    received.clear()
    services.resume_jobs(["s.one", "s.three"])
    assert received == [("resumed", "s.one", "planned"), ("resumed", "s.three", "planned")]


@pytest.mark.django_db(transaction=True)
def test_a_state_change_through_a_job_save_is_a_pause(received):
    make_job("s.patch")
    services.save_job("s.patch", {"state": "paused"}, partial=True)
    services.save_job("s.patch", {"description": "no state change"}, partial=True)
    services.save_job("s.patch", {"state": "planned"}, partial=True)
    assert received == [("paused", "s.patch", "paused"), ("resumed", "s.patch", "planned")]


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_for_a_change_rolled_back(received):
    make_job("s.rollback")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.pause_jobs(["s.rollback"])
        raise RuntimeError("the caller's transaction fails")
    assert received == []
    assert Job.objects.get(pk="s.rollback").state == "planned"


@pytest.mark.django_db(transaction=True)
def test_a_failing_receiver_neither_fails_the_pause_nor_stops_the_others(received, caplog):
    def broken(sender, **kwargs):
        raise ValueError("receiver bug")

    signals.job_paused.connect(broken, sender=Job)
    try:
        make_job("s.robust")
        assert services.pause_jobs(["s.robust"]) == ["s.robust"]
    finally:
        signals.job_paused.disconnect(broken, sender=Job)
    assert ("paused", "s.robust", "paused") in received
    assert "receiver bug" in caplog.text
