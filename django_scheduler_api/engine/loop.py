"""The scheduler loop: wake at the next fire time, claim what is due, send it, keep the node alive.

One pass (``tick``):

1. heartbeat, if ``HEARTBEAT_INTERVAL`` has passed; then the outbox (fires recorded but never sent);
   every ``MAINTENANCE_INTERVAL`` also lost executions, old executions and dead nodes;
2. claim due jobs in batches of ``CLAIM_BATCH_SIZE`` until a batch comes back short; each batch is
   recorded in one transaction and sent to django-q2 right after it commits. Jobs due within
   ``LOOKAHEAD`` seconds are claimed and sent that much early, with their instant, at which the
   workers start the handlers; the outbox entries of what was sent are closed at the start of the
   next pass.

Between passes the loop sleeps until the earliest ``next_fire_time`` of any planned job, but never
longer than ``MAX_SLEEP`` (so a job created or changed elsewhere is seen within that time; on
PostgreSQL a NOTIFY from the change ends the sleep at once, see ``wakeup``) nor past the next
heartbeat. SIGTERM and SIGINT end the sleep at once; the loop finishes its pass, deletes its
node row and returns. A database error (a restart, a lost connection) is logged, the connection is
dropped and the loop tries again a moment later: a scheduler outlives its database's hiccups.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connection
from django.utils import timezone

from django_scheduler_api import wakeup
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.engine import dispatch, heartbeat, store, worker

logger = logging.getLogger(__name__)

# How long to wait after a database error before the next attempt.
ERROR_BACKOFF = 1.0
# Executions pruned, and outbox entries re-sent, per pass at most (the rest follow next time).
PRUNE_BATCH = 5000
OUTBOX_BATCH = 1000


@dataclass
class TickStats:
    """What one pass did."""

    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    resent: int = 0
    lost: int = 0
    pruned: int = 0


class Scheduler:
    """One scheduler process. Any number may run against one database (see ``store``)."""

    def __init__(self, node_name: str | None = None, *, clock: Callable[[], datetime] = timezone.now):
        self.node = node_name or heartbeat.default_node_name()
        self.clock = clock
        self.heartbeat = heartbeat.Heartbeat(self.node)
        self._stop = threading.Event()
        # Ends a sleep: set by ``stop`` and, on PostgreSQL, by a NOTIFY that jobs changed.
        self._wake = threading.Event()
        self._listener = wakeup.Listener(self._wake)
        self._next_beat = 0.0
        self._next_maintenance = 0.0
        self._unmarked: list[dispatch.Batch] = []  # pushed at their instant, marked sent next pass

    # -- running --------------------------------------------------------------------------------

    def start(self) -> None:
        """Announce the node. (The ``run_scheduler`` command loads the jobs declared in code first.)"""
        self.heartbeat.beat(self.clock())

    def run(self, *, once: bool = False) -> None:
        """Tick until stopped (or once). The caller calls ``start`` first."""
        if not once:
            self._listener.start()
        try:
            while not self._stop.is_set():
                self._wake.clear()  # a change seen during the pass wakes the next sleep at once
                failed = self._guarded(self.tick) is None
                if once:
                    break
                self._wake.wait(ERROR_BACKOFF if failed else self._guarded(self.sleep_time) or 0)
        finally:
            self._listener.stop()
            self._guarded(self.mark_pushed)
            self._guarded(self.heartbeat.stop)

    def stop(self, *args: Any) -> None:
        """Ask the loop to finish its pass and return (safe to call from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.stop)

    def _guarded(self, step: Callable[[], Any]) -> Any:
        """Run a step; on a database error log it, drop the connection and return None."""
        try:
            return step()
        except DatabaseError:
            logger.exception("Scheduler %s: database error; retrying.", self.node)
            connection.close()
            return None

    # -- one pass -------------------------------------------------------------------------------

    def tick(self) -> TickStats:
        """One pass: housekeeping that is due, then every job that is due."""
        stats = TickStats()
        self.mark_pushed()
        self._housekeeping(stats)
        self.dispatch_due(stats)
        return stats

    def dispatch_due(self, stats: TickStats | None = None) -> TickStats:
        """Claim and send due jobs, batch after batch, until none is left.

        A fire due within ``LOOKAHEAD`` seconds is claimed, recorded and handed to django-q2 now, with
        its instant: a worker claims its executions at once and starts the handlers at that instant
        (``worker.run_executions``), so neither the scheduler's work nor the worker's is added to
        the fire's lag.
        """
        stats = stats or TickStats()
        limit = scheduler_settings.CLAIM_BATCH_SIZE
        while not self._stop.is_set():
            instant = self._fire_instant()
            if instant is None:
                break
            claim = store.claim_due(
                instant, node=self.node, limit=limit, threshold=scheduler_settings.misfire_threshold
            )
            batch = dispatch.Batch(claim.to_send, start_at=instant)
            stats.sent += batch.push()
            self._unmarked.append(batch)
            stats.claimed += claim.jobs
            stats.skipped += claim.skipped
            if claim.jobs < limit:
                break
        return stats

    def mark_pushed(self) -> None:
        """Mark the batches pushed in earlier passes sent (see ``dispatch.Batch``)."""
        while self._unmarked:
            self._unmarked[0].mark_sent()
            self._unmarked.pop(0)

    def _fire_instant(self) -> datetime | None:
        """When to send the next fires: now if some are due, their instant if it comes within
        ``LOOKAHEAD`` seconds, None if nothing is due that soon (an idle pass claims nothing)."""
        now = self.clock()
        upcoming = store.next_due_time()
        if upcoming is None or upcoming > now + timedelta(seconds=scheduler_settings.LOOKAHEAD):
            return None
        return max(now, upcoming)

    def _housekeeping(self, stats: TickStats) -> None:
        monotonic = time.monotonic()
        if monotonic < self._next_beat:
            return
        self._next_beat = monotonic + scheduler_settings.HEARTBEAT_INTERVAL
        now = self.clock()
        self.heartbeat.beat(now)
        grace = timedelta(seconds=scheduler_settings.ENQUEUE_GRACE)
        stats.resent = store.send_outbox(now, grace=grace, limit=OUTBOX_BATCH, send=dispatch.send)
        if stats.resent:
            logger.warning("Scheduler %s re-sent %d unsent executions.", self.node, stats.resent)
        if monotonic >= self._next_maintenance:
            self._next_maintenance = monotonic + scheduler_settings.MAINTENANCE_INTERVAL
            self._maintain(now, stats)

    def _maintain(self, now: datetime, stats: TickStats) -> None:
        timeout = timedelta(seconds=scheduler_settings.EXECUTION_TIMEOUT)
        tasks = (worker.TASK, *worker.FORMER_TASKS)
        failed = store.mark_failed_tasks(now, since=now - timeout, tasks=tasks)
        stats.lost = store.mark_lost(now, timeout=timeout) + failed
        retention = scheduler_settings.EXECUTION_RETENTION
        if retention is not None:
            stats.pruned = store.prune(now, retention=timedelta(seconds=retention), limit=PRUNE_BATCH)
        heartbeat.forget_dead_nodes(now, timedelta(seconds=scheduler_settings.NODE_TIMEOUT))
        if stats.lost or stats.pruned:
            logger.info("Scheduler %s: %d lost, %d pruned.", self.node, stats.lost, stats.pruned)

    def sleep_time(self) -> float:
        """Seconds until the earliest next fire is within ``LOOKAHEAD``, at most ``MAX_SLEEP`` and
        the next heartbeat."""
        longest = min(float(scheduler_settings.MAX_SLEEP), max(0.0, self._next_beat - time.monotonic()))
        due = store.next_due_time()
        if due is None:
            return longest
        until = (due - self.clock()).total_seconds() - scheduler_settings.LOOKAHEAD
        return max(0.0, min(longest, until))
