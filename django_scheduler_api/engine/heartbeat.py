"""Heartbeats: scheduler processes keep a ``SchedulerNode`` row fresh, worker processes a ``WorkerNode``.

The status endpoint counts a scheduler node as alive while its ``last_seen`` is within
``NODE_TIMEOUT``; a node that stops cleanly deletes its row at once, one that dies simply ages out.

Each django-q2 worker process beats from a thread of its own every ``WORKER_HEARTBEAT_INTERVAL``
seconds (started at the worker's first scheduler task), whether or not it is running handlers. The
executions it claims carry its name (``Execution.worker``); when its row has been silent for
``WORKER_TIMEOUT`` seconds the schedulers take it for dead and its running executions for lost
(``store.mark_orphaned``), as Quartz's cluster recovers the jobs of a node that stopped checking in.
A beat that fails (the database is down) is tried again after a short back-off.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.engine import errors
from django_scheduler_api.models import SchedulerNode, WorkerNode

logger = logging.getLogger(__name__)

# Rows of nodes silent for this many node timeouts are deleted: long enough to read in the admin
# what died recently, short enough that the table does not grow with every restart.
FORGET_AFTER_TIMEOUTS = 10


def default_node_name() -> str:
    """``host:pid``: unique among running processes, readable in the status."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """The node row of one scheduler process."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started_at = timezone.now()

    def beat(self, now: datetime) -> None:
        """Mark the node alive at ``now`` (creating its row on the first beat or after a purge)."""
        updated = SchedulerNode.objects.filter(pk=self.name).update(last_seen=now)
        if not updated:
            SchedulerNode.objects.update_or_create(
                name=self.name,
                defaults={
                    "hostname": socket.gethostname(),
                    "pid": os.getpid(),
                    "started_at": self.started_at,
                    "last_seen": now,
                },
            )

    def stop(self) -> None:
        """Remove the node row: this scheduler is gone now, not in ``NODE_TIMEOUT`` seconds."""
        SchedulerNode.objects.filter(pk=self.name).delete()


def forget_dead_nodes(now: datetime, node_timeout: timedelta) -> int:
    """Delete rows of nodes silent for much longer than the node timeout."""
    cutoff = now - node_timeout * FORGET_AFTER_TIMEOUTS
    return SchedulerNode.objects.filter(last_seen__lt=cutoff).delete()[0]


def forget_dead_workers(now: datetime, worker_timeout: timedelta) -> int:
    """Delete rows of worker processes silent for much longer than the worker timeout."""
    cutoff = now - worker_timeout * FORGET_AFTER_TIMEOUTS
    return WorkerNode.objects.filter(last_seen__lt=cutoff).delete()[0]


class WorkerHeartbeat:
    """The ``WorkerNode`` row of one django-q2 worker process, kept fresh by a daemon thread."""

    def __init__(self, name: str, cluster: str = "") -> None:
        self.name = name
        self.cluster = cluster
        self.pid = os.getpid()
        self.started_at = timezone.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)

    def start(self) -> WorkerHeartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def beat(self, now: datetime) -> None:
        """Mark the worker alive at ``now`` (creating its row on the first beat or after a purge)."""
        if not WorkerNode.objects.filter(pk=self.name).update(last_seen=now):
            WorkerNode.objects.update_or_create(
                name=self.name,
                defaults={
                    "hostname": socket.gethostname(),
                    "pid": self.pid,
                    "cluster": self.cluster[:100],
                    "started_at": self.started_at,
                    "last_seen": now,
                },
            )

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.beat(timezone.now())
                failures = 0
                pause = float(scheduler_settings.WORKER_HEARTBEAT_INTERVAL)
            except errors.transient_errors() as exc:
                failures += 1
                logger.warning(
                    "Worker %s: heartbeat failed (%s: %s); retrying.", self.name, type(exc).__name__, exc
                )
                connection.close()
                pause = min(errors.backoff(failures), float(scheduler_settings.WORKER_HEARTBEAT_INTERVAL))
            except Exception:  # a heartbeat must never stop for good while the worker lives
                logger.exception("Worker %s: heartbeat failed unexpectedly; retrying.", self.name)
                pause = float(scheduler_settings.WORKER_HEARTBEAT_INTERVAL)
            self._stop.wait(pause)
        connection.close()


_worker: WorkerHeartbeat | None = None


def start_worker_heartbeat(*, only_in_workers: bool = True) -> WorkerHeartbeat | None:
    """Start this worker process's heartbeat, once per process (at its first scheduler task, as
    ``handler_threads.warm_up``); its name, or None where nothing was started.

    Only in a worker process of its own (``only_in_workers``): with django-q2's ``sync`` option a
    task runs in the process that sends it (a web server, a test), which is not a worker; its
    executions wait for ``EXECUTION_TIMEOUT`` as before.
    """
    global _worker
    if _worker is not None and _worker.pid == os.getpid():
        return _worker
    if only_in_workers and multiprocessing.parent_process() is None:
        return None
    from django_q.conf import Conf

    _worker = WorkerHeartbeat(default_node_name(), cluster=str(Conf.CLUSTER_NAME or "")).start()
    return _worker


def current_worker() -> str:
    """The ``WorkerNode`` name of this process if it keeps a heartbeat, else "" (a process that
    runs tasks without one, django-q2's sync mode: its executions wait for ``EXECUTION_TIMEOUT``)."""
    if _worker is not None and _worker.pid == os.getpid():
        return _worker.name
    return ""
