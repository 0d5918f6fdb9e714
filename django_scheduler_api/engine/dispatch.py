"""Sending: handing recorded executions to django-q2, many at a time.

A scheduler sending thousands of fires a second needs few round trips and few tasks. The fires sent
together are packed into tasks of several executions each (``task_size``); each task is made by
django-q2's public ``async_task`` (which names, signs and signals it as for any task), but handed to
a ``HeldTasks`` broker that only holds the packages; ``push`` then sends them all to the configured
broker at once (``push_many``): one ``RPUSH`` of every package to Redis (one round trip), one bulk
insert into the ORM broker's queue, one ``enqueue`` each elsewhere. The outbox entries are closed
with one statement (``store.mark_sent``). Manual triggers (``enqueue``) take the same path.

django-q2's options go in ``q_options``, apart from the task's own arguments (``start_at``). Nothing
here imports a broker's client library: django-q2's ``get_broker`` imports the one configured.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_q.brokers import Broker, get_broker
from django_q.conf import Conf
from django_q.tasks import async_task

from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.engine import deadlines, store
from django_scheduler_api.engine.worker import TASK
from django_scheduler_api.models import Execution

logger = logging.getLogger(__name__)


class HeldTasks(Broker):
    """A django-q2 broker that holds the task packages ``async_task`` gives it, for ``push_many``.

    It stands for ``target`` (same queue, same cache) and opens no connection of its own.
    """

    def __init__(self, target: Broker) -> None:
        self.target = target
        self.packages: list[str] = []
        super().__init__(list_key=target.list_key)

    def get_connection(self, list_key: str | None = None) -> Any:
        return self.target.connection

    def enqueue(self, task: str) -> int:
        self.packages.append(task)
        return len(self.packages)

    def queue_size(self) -> int:
        return len(self.packages)


def push_many(broker: Broker, packages: list[str]) -> None:
    """Hand task packages to ``broker`` in as few round trips as it allows.

    Each django-q2 broker class has one way to enqueue many; it is found by the names of the class
    and its bases, so that no broker's module (nor ``redis``) is imported unless it is configured.
    """
    if not packages:
        return
    for cls in type(broker).__mro__:
        push = PUSH_MANY.get(f"{cls.__module__}.{cls.__qualname__}")
        if push is not None:
            push(broker, packages)
            return
    for package in packages:
        broker.enqueue(package)


def _push_to_redis(broker: Broker, packages: list[str]) -> None:
    """One ``RPUSH`` with every package, as django-q2's ``Redis.enqueue`` pushes one."""
    broker.connection.rpush(broker.list_key, *packages)


def _push_to_orm(broker: Broker, packages: list[str]) -> None:
    """One bulk insert into django-q2's queue table, rows as its ``ORM.enqueue`` makes them."""
    from django_q.models import OrmQ

    now = timezone.now()
    key = broker.list_key or Conf.CLUSTER_NAME
    OrmQ.objects.using(Conf.ORM).bulk_create([OrmQ(key=key, payload=p, lock=now) for p in packages])


PUSH_MANY: dict[str, Callable[[Broker, list[str]], None]] = {
    "django_q.brokers.redis_broker.Redis": _push_to_redis,
    "django_q.brokers.orm.ORM": _push_to_orm,
}

# Brokers whose workers look for tasks every django-q2 ``poll`` seconds (the others hand a task to
# a worker waiting for one, as Redis's blocking pop does).
POLLING_BROKERS = frozenset({"django_q.brokers.orm.ORM"})

_brokers: dict[tuple[int, str | None], Broker] = {}


def runs_inline() -> bool:
    """Whether django-q2 runs each task in the process that sends it (its ``sync`` option)."""
    return bool(Conf.SYNC)


def pickup_delay() -> float:
    """How long a worker of the configured broker may take to notice a task: django-q2's ``poll``
    for a broker whose workers poll (the ORM broker), 0 for one that hands tasks to waiting
    workers. A scheduler sends that much earlier (docs/engine.rst, "Handing over early")."""
    names = {f"{cls.__module__}.{cls.__qualname__}" for cls in type(broker()).__mro__}
    return float(Conf.POLL) if names & POLLING_BROKERS else 0.0


def broker() -> Broker:
    """This process's django-q2 broker for the configured queue, made once.

    ``get_broker`` builds a new client, and with Redis a new connection pool, at every call: a new
    connection and its handshake cost about 3 ms, paid at the fire instant. (Keyed by pid: a
    connection must not be shared with a forked child.)
    """
    key = (os.getpid(), scheduler_settings.Q_CLUSTER_NAME)
    if key not in _brokers:
        _brokers[key] = get_broker(scheduler_settings.Q_CLUSTER_NAME)
    return _brokers[key]


class Batch:
    """Executions to hand to django-q2 together: sent by ``push``, their outbox entries closed by
    ``mark_sent`` (``flush`` does both). Making a batch does nothing else.

    A scheduler's claim makes the tasks before it inserts the rows (``prepare``): each row goes in
    with its task id and ``enqueued_at``, recorded as sent, and the tasks are pushed after the
    commit; no mark follows. Should the push fail, ``unmark`` records them as not sent.

    A scheduler pushes a fire ahead of its instant (``Scheduler.lead``), with ``start_at``: the
    workers claim the executions just before the instant and start the handlers at it.

    Marking may come later than pushing. The scheduler marks a batch pushed at or after its instant
    at its next pass, so that at the instant the database serves the workers' claims only (one pushed
    before its instant is marked at once). Nothing depends on the mark but the outbox: a worker's
    claim records ``enqueued_at`` itself, and an execution left unmarked by a crash is sent again,
    which runs nothing twice.
    """

    def __init__(
        self, executions: list[Execution] | None = None, *, start_at: datetime | None = None
    ) -> None:
        self.executions = executions or []
        self.start_at = start_at
        self.pushed_at: datetime | None = None
        self.prepared = False  # the rows were recorded as sent (``prepare``): no mark follows
        self._task_ids: list[str] = []
        self._held: HeldTasks | None = None

    def prepare(self, executions: list[Execution]) -> None:
        """Make the tasks of ``executions`` before their rows are recorded, and write on each its
        task id and ``enqueued_at``, so that the rows are recorded as sent (``store.claim_due``).

        Not with django-q2's ``sync`` option, which runs a task as it is made: its handler would
        not find its row. django-q2's ``pre_enqueue`` signal is sent as each task is made, here
        before the rows are committed.
        """
        self.executions = executions
        self._make()
        now = timezone.now()
        for execution, task_id in zip(executions, self._task_ids, strict=True):
            execution.task_id, execution.enqueued_at = task_id[:64], now
        self.prepared = True

    def _make(self) -> HeldTasks:
        """Make the executions' tasks (once: by ``prepare`` or by ``push``)."""
        self._held = HeldTasks(broker())
        self._task_ids = _make_tasks(self.executions, self._held, self.start_at)
        return self._held

    def unmark(self) -> None:
        """After a push that failed: record the prepared rows as not sent (the outbox's, and
        ``unsent`` in the status, again). Unprepared rows were never marked."""
        if self.prepared:
            store.unmark_sent(self.executions)

    def push(self) -> int:
        """Make the tasks and hand them to the broker; returns how many executions they carry.

        With django-q2's ``sync`` on, ``async_task`` runs each task as it is made, as django-q2 does
        for any task; the batch is complete by then, so every handler finds its row.
        """
        if not self.executions:
            return 0
        held = self._held or self._make()
        push_many(held.target, held.packages)
        self.pushed_at = timezone.now()
        return len(self.executions)

    def mark_sent(self) -> None:
        """Close the outbox entries of a pushed batch, with the time it was pushed (nothing to do
        for a prepared batch, recorded as sent)."""
        if self.pushed_at is not None and not self.prepared:
            store.mark_sent(self.executions, self.pushed_at, self._task_ids)

    def flush(self) -> int:
        """Push and mark at once; returns how many executions were sent."""
        count = self.push()
        self.mark_sent()
        return count


def send(executions: list[Execution]) -> int:
    """Enqueue the executions' django-q2 tasks and mark them sent; returns how many were sent.

    Sending comes before marking: a crash in between leaves them in the outbox, and a second send is
    harmless because the task runs an execution only if it finds it still queued. A broker's error
    is raised (the scheduler's loop and outbox decide what to do).
    """
    return Batch(executions).flush()


def enqueue(executions: Iterable[Execution]) -> int:
    """Send executions now if the broker takes them; returns how many were sent.

    For requests (a manual trigger): the executions are recorded already, so a broker that fails
    (down, unreachable, refusing) must not fail the request. The error is logged and the executions
    stay in the outbox, which a scheduler sends after ``ENQUEUE_GRACE``. Any exception counts: each
    django-q2 broker raises its client's own (``redis.ConnectionError``, ``botocore`` errors, a
    database error for the ORM broker).
    """
    executions = list(executions)
    try:
        return send(executions)
    except Exception:
        logger.exception(
            "django-q2's broker did not take %d execution(s); a scheduler's outbox sends them later.",
            len(executions),
        )
        return 0


def enqueue_on_commit(executions: list[Execution]) -> None:
    """Enqueue after the surrounding transaction commits: a worker must find the rows it is given."""
    transaction.on_commit(lambda: enqueue(executions))


# A crowd (more fires at once than the workers' threads start together) travels in tasks of up to
# this many times ``TASK_BATCH_SIZE``: one per worker while that is enough, each worker claiming its
# task's executions before the instant (a second task would wait for the first to end: at 1,000
# fires a second the handlers of second tasks started 50-100 ms late, BENCHMARKS.md), more tasks
# beyond (a worker done early takes another's share).
CROWD_TASK_LIMIT = 10


def task_size(count: int) -> int:
    """Executions per task when ``count`` are sent together: enough tasks to keep every worker of the
    cluster busy, none larger than ``TASK_BATCH_SIZE`` unless the fires are a crowd.

    100 fires on 4 workers make 4 tasks of 25 that start at once; one task per fire would queue 96 of
    them behind the first four, and the hundredth would start hundreds of milliseconds late. A crowd
    of fires (more than the workers' ``TASK_BATCH_SIZE`` threads start at once: 10,000 jobs at
    midnight) goes in fewer, larger tasks, whose handlers a worker runs through its threads as they
    free up (``handler_threads.run_together``): each task costs a hand-over through django-q2, a
    claim and an outcome write, and 400 of them kept four workers busy longer than the handlers
    (BENCHMARKS.md, *The midnight herd*). ``TASK_BATCH_SIZE = 1`` keeps one execution per task.
    """
    workers = max(1, int(Conf.WORKERS or 1))
    batch = int(scheduler_settings.TASK_BATCH_SIZE)
    even = -(-count // workers)
    if even <= batch or batch == 1:
        return max(1, min(batch, even))
    return min(batch * CROWD_TASK_LIMIT, max(batch, even))


def _make_tasks(executions: list[Execution], held: HeldTasks, start_at: datetime | None) -> list[str]:
    """Make the tasks of the executions, ``task_size`` each, into ``held``; each execution's task id.

    ``start_at``: the fire instant of tasks handed over ahead of it, when their handlers must start
    (an argument of the task; django-q2's own options go in ``q_options``).
    """
    q_options: dict[str, Any] = {"broker": held}
    if scheduler_settings.Q_CLUSTER_NAME:
        q_options["cluster"] = scheduler_settings.Q_CLUSTER_NAME
    kwargs = {} if start_at is None else {"start_at": start_at.timestamp()}
    task_ids: dict[Any, str] = {}
    for chunk in _chunks(executions):
        ids = [str(e.pk) for e in chunk]
        options = {**q_options, "task_name": _task_name(chunk), **_timeout_option(chunk)}
        task_id = str(async_task(TASK, ids, q_options=options, **kwargs) or "")
        task_ids.update((e.pk, task_id) for e in chunk)
    return [task_ids[e.pk] for e in executions]


def _chunks(executions: list[Execution]) -> list[list[Execution]]:
    """The executions as tasks: each of a job with a timeout alone (its handler must be stoppable
    without harming another's, docs/scheduling.rst "Timeouts"), the others ``task_size`` each."""
    timed = [[e] for e in executions if e.timeout]
    shared = [e for e in executions if not e.timeout]
    size = task_size(len(shared))
    return timed + [shared[first : first + size] for first in range(0, len(shared), size)]


def _timeout_option(chunk: list[Execution]) -> dict[str, int]:
    """django-q2's per-task ``timeout``: for a task of one execution with a timeout, that timeout
    (and a margin); for a crowd's task, whose handlers run in several rounds of the worker's
    ``TASK_BATCH_SIZE`` threads, the cluster's timeout once per round, so that each handler has the
    time it would have in a task of its own round; none otherwise (the cluster's applies)."""
    if len(chunk) == 1 and chunk[0].timeout:
        return {"timeout": deadlines.task_timeout(chunk[0].timeout)}
    rounds = -(-len(chunk) // max(1, int(scheduler_settings.TASK_BATCH_SIZE)))
    if rounds > 1 and Conf.TIMEOUT:
        return {"timeout": int(Conf.TIMEOUT) * rounds}
    return {}


def _task_name(chunk: list[Execution]) -> str:
    """What django-q2 shows for the task: the job of a single fire, else how many fires it carries."""
    if len(chunk) == 1:
        return f"scheduler:{chunk[0].job_id}"
    return f"scheduler:{len(chunk)} fires"
