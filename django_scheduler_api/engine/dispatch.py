"""Handing recorded executions to django-q2, many at a time.

A scheduler sending thousands of fires a second needs few round trips and few tasks. The fires sent
together are packed into tasks of several executions each (``task_size``), one broker connection
serves a whole batch, Redis pushes go through one pipeline, ORM-broker inserts share one
transaction, and the outbox entries are closed with one bulk update. Manual triggers
(``enqueue``) take the same path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.engine import store
from django_scheduler_api.engine.worker import TASK
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


_brokers: dict[tuple[int, str | None], Any] = {}


def _broker() -> Any:
    """This process's django-q2 broker for the configured queue, made once.

    ``get_broker`` builds a new client, and with Redis a new connection pool, at every call: a new
    connection and its handshake cost about 3 ms, paid at the fire instant. (Keyed by pid: a
    connection must not be shared with a forked child.)
    """
    from django_q.brokers import get_broker

    key = (os.getpid(), scheduler_settings.Q_CLUSTER_NAME)
    if key not in _brokers:
        _brokers[key] = get_broker(scheduler_settings.Q_CLUSTER_NAME)
    return _brokers[key]


class Batch:
    """Executions packed for django-q2: handed over by ``push``, their outbox entries closed by
    ``mark_sent`` (``flush`` does both).

    With the Redis broker the tasks are built (serialised, signed) when the batch is prepared and
    only pushed, in one round trip, at ``push``; other brokers send at ``push``. A scheduler prepares
    and pushes a fire up to ``LOOKAHEAD`` before its instant, with ``start_at``: the workers claim the
    executions at once and start the handlers at the instant.

    Marking may come later than pushing. The scheduler marks a pushed batch at its next pass, so
    that at the fire instant the database serves the workers' claims only. Nothing depends on the
    mark but the outbox: a worker's claim records ``enqueued_at`` itself, and an execution left
    unmarked by a crash is sent again, which runs nothing twice.
    """

    def __init__(self, executions: list[Execution], *, start_at: datetime | None = None) -> None:
        self.executions = executions
        self.start_at = start_at
        self.pushed_at: datetime | None = None
        self._pipeline: _PipelinedRedis | None = None
        self._task_ids: list[str] = []
        if executions:
            from django_q.brokers.redis_broker import Redis

            broker = _broker()
            if isinstance(broker, Redis):
                self._pipeline = _PipelinedRedis(broker)
                self._task_ids = _send_each(executions, self._pipeline, start_at)

    def push(self) -> int:
        """Hand the tasks to the broker; returns how many executions they carry."""
        if not self.executions:
            return 0
        if self._pipeline is not None:
            self._pipeline.flush()
        else:
            from django_q.conf import Conf

            with transaction.atomic(using=Conf.ORM or "default"):
                self._task_ids = _send_each(self.executions, _broker(), self.start_at)
        self.pushed_at = timezone.now()
        return len(self.executions)

    def mark_sent(self) -> None:
        """Close the outbox entries of a pushed batch, with the time it was pushed."""
        if self.pushed_at is not None:
            store.mark_sent(self.executions, self.pushed_at, self._task_ids)

    def flush(self) -> int:
        """Push and mark at once; returns how many executions were sent."""
        count = self.push()
        self.mark_sent()
        return count


def enqueue(executions: Iterable[Execution]) -> int:
    """Send executions to django-q2 and mark them enqueued (their outbox entries are then done)."""
    return send(list(executions))


def enqueue_on_commit(executions: list[Execution]) -> None:
    """Enqueue after the surrounding transaction commits: a worker must find the rows it is given."""
    transaction.on_commit(lambda: enqueue(executions))


def send(executions: list[Execution]) -> int:
    """Enqueue the executions' django-q2 tasks and mark them sent; returns how many were sent.

    Sending comes before marking: a crash in between leaves them in the outbox, and a second send is
    harmless because the task runs an execution only if it finds it still queued.
    """
    return Batch(executions).flush()


def task_size(count: int) -> int:
    """Executions per task when ``count`` are sent together: enough tasks to keep every worker of the
    cluster busy, none larger than ``TASK_BATCH_SIZE``.

    100 fires on 4 workers make 4 tasks of 25 that start at once; one task per fire would queue 96 of
    them behind the first four, and the hundredth would start hundreds of milliseconds late.
    """
    from django_q.conf import Conf

    workers = max(1, int(Conf.WORKERS or 1))
    return max(1, min(int(scheduler_settings.TASK_BATCH_SIZE), -(-count // workers)))


def _send_each(executions: list[Execution], broker: Any, start_at: datetime | None = None) -> list[str]:
    """Send the executions in tasks of ``task_size``; the task id of each execution, in order.

    ``start_at``: the fire instant of tasks handed over ahead of it, when their handlers must start.
    """
    from django_q.tasks import async_task

    options: dict[str, Any] = {"broker": broker}
    if scheduler_settings.Q_CLUSTER_NAME:
        options["cluster"] = scheduler_settings.Q_CLUSTER_NAME
    if start_at is not None:
        options["start_at"] = start_at.timestamp()
    size = task_size(len(executions))
    task_ids: list[str] = []
    for start in range(0, len(executions), size):
        chunk = executions[start : start + size]
        ids = [str(e.pk) for e in chunk]
        task_id = str(async_task(TASK, ids, task_name=_task_name(chunk), **options) or "")
        task_ids.extend([task_id] * len(chunk))
    return task_ids


def _task_name(chunk: list[Execution]) -> str:
    """What django-q2 shows for the task: the job of a single fire, else how many fires it carries."""
    if len(chunk) == 1:
        return f"scheduler:{chunk[0].job_id}"
    return f"scheduler:{len(chunk)} fires"
