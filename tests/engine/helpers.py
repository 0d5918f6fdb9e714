"""Small builders shared by the engine's tests."""

from __future__ import annotations

import socket
from typing import Any

from django_q.brokers import Broker
from django_q.conf import Conf

from django_scheduler_api.engine import dispatch
from django_scheduler_api.models import Execution, Job


def executions(job_id: str = "e.job") -> list[Execution]:
    return list(Execution.objects.filter(job_id=job_id).order_by("scheduled_fire_time"))


def reload(job: Job) -> Job:
    job.refresh_from_db()
    return job


def use_broker(monkeypatch: Any, **conf: Any) -> Broker:
    """Make django-q2 use the broker ``conf`` selects (``Conf`` as ``Q_CLUSTER`` would set it), for
    this test; returns it, as ``dispatch`` will use it."""
    for name, value in {"ORM": None, "BROKER_CLASS": None, **conf}.items():
        monkeypatch.setattr(Conf, name, value)
    monkeypatch.setattr(dispatch, "_brokers", {})
    return dispatch.broker()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
