"""Handing recorded executions to django-q2, many at a time.

``execution.enqueue`` sends one task and updates one row per execution; a scheduler sending thousands
of fires a second needs fewer round trips. Here one broker connection serves a whole batch, Redis
pushes go through one pipeline, ORM-broker inserts share one transaction, and the outbox entries are
closed with one bulk update. The task and its payload are the same as ``execution.enqueue``'s, so a
worker cannot tell which path sent it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.engine import store
from django_scheduler_api.execution import TASK
from django_scheduler_api.models import Execution

logger = logging.getLogger(__name__)


class _PipelinedRedis:
    """Stands in for django-q2's Redis broker in ``async_task``: pushes wait in one pipeline."""

    def __init__(self, broker: Any) -> None:
        self.list_key = broker.list_key
        self._pipeline = broker.connection.pipeline(transaction=False)

    def enqueue(self, package: str) -> None:
        self._pipeline.rpush(self.list_key, package)

    def flush(self) -> None:
        self._pipeline.execute()


def _broker() -> Any:
    from django_q.brokers import get_broker

    return get_broker(scheduler_settings.Q_CLUSTER_NAME)


class Batch:
    """Executions packed for django-q2, to be handed over by ``flush``.

    With the Redis broker the tasks are built (serialised, signed) when the batch is prepared and
    only pushed, in one round trip, when it is flushed: a scheduler prepares a fire shortly before its
    instant and flushes at the instant. Other brokers send at ``flush``.
    """

    def __init__(self, executions: list[Execution]) -> None:
        self.executions = executions
        self._pipeline: _PipelinedRedis | None = None
        self._task_ids: list[str] = []
        if executions:
            from django_q.brokers.redis_broker import Redis

            broker = _broker()
            if isinstance(broker, Redis):
                self._pipeline = _PipelinedRedis(broker)
                self._task_ids = _send_each(executions, self._pipeline)

    def flush(self) -> int:
        """Hand the tasks to the broker and mark the executions sent; returns how many."""
        if not self.executions:
            return 0
        if self._pipeline is not None:
            self._pipeline.flush()
            task_ids = self._task_ids
        else:
            from django_q.conf import Conf

            with transaction.atomic(using=Conf.ORM or "default"):
                task_ids = _send_each(self.executions, _broker())
        store.mark_sent(self.executions, timezone.now(), task_ids)
        return len(self.executions)


def send(executions: list[Execution]) -> int:
    """Enqueue one django-q2 task per execution and mark them sent; returns how many were sent.

    Sending comes before marking: a crash in between leaves them in the outbox, and a second send is
    harmless because the task runs an execution only if it finds it still queued.
    """
    return Batch(executions).flush()


def _send_each(executions: list[Execution], broker: Any) -> list[str]:
    from django_q.tasks import async_task

    options: dict[str, Any] = {"broker": broker}
    if scheduler_settings.Q_CLUSTER_NAME:
        options["cluster"] = scheduler_settings.Q_CLUSTER_NAME
    return [
        str(async_task(TASK, str(e.pk), task_name=f"scheduler:{e.job_id}", **options) or "")
        for e in executions
    ]
