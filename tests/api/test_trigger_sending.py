"""A trigger's answer says whether django-q2 has the executions; a failing broker never makes it a 500.

These tests commit (``transaction=True``), so the executions are sent during the request, as in a
project without ``ATOMIC_REQUESTS``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_scheduler_api.engine import dispatch, store
from django_scheduler_api.models import Execution
from tests.api.conftest import BASE
from tests.engine.helpers import closed_port, use_broker

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_trigger_sent_to_the_broker_says_sent(api, make_job, monkeypatch):
    use_broker(monkeypatch, ORM="default")
    make_job("a")
    response = api.post(f"{BASE}/trigger?ids=a")
    assert response.status_code == 200
    (triggered,) = response.json()["triggered"]
    assert triggered["sent"] is True
    assert Execution.objects.get(pk=triggered["execution"]).enqueued_at is not None


def test_a_broker_that_fails_is_no_500_and_the_outbox_sends_the_execution_later(
    api, make_job, monkeypatch, caplog
):
    """A real Redis client pointed at a port nothing listens on."""
    use_broker(monkeypatch, REDIS=f"redis://127.0.0.1:{closed_port()}/0")
    make_job("a")
    make_job("b")
    response = api.post(f"{BASE}/trigger?ids=a,b", {"k": 1}, format="json")
    assert response.status_code == 200
    triggered = response.json()["triggered"]
    assert [(t["job"], t["sent"]) for t in triggered] == [("a", False), ("b", False)]
    assert "did not take 2 execution(s)" in caplog.text
    rows = Execution.objects.filter(pk__in=[t["execution"] for t in triggered])
    assert {(r.status, r.enqueued_at, r.data["k"]) for r in rows} == {(Execution.Status.QUEUED, None, 1)}
    use_broker(monkeypatch, ORM="default")  # the broker is back
    later = timezone.now() + timedelta(minutes=5)
    outbox = store.send_outbox(
        later, grace=timedelta(seconds=1), limit=10, send=dispatch.send, threshold=timedelta(hours=1)
    )
    assert outbox.sent == 2
    assert not Execution.objects.filter(enqueued_at__isnull=True).exists()
