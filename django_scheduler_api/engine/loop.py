"""The scheduler loop: wake at the next fire time, claim what is due, send it, keep the node alive.

One pass (``tick``):

1. heartbeat, if ``HEARTBEAT_INTERVAL`` has passed; then the outbox (fires recorded but never sent);
   every ``MAINTENANCE_INTERVAL`` also lost executions, old executions and dead nodes;
2. claim due jobs in batches of ``CLAIM_BATCH_SIZE`` until a batch comes back short; each batch is
   recorded in one transaction and sent to django-q2 right after it commits. Jobs due within
   ``lead`` seconds (``LOOKAHEAD``, more for a polling broker or a crowd of fires) are claimed and
   sent that much early, with their instant, at which the workers start the handlers. The rows are
   recorded as sent by the claim itself (``dispatch.Batch.prepare``); with django-q2's ``sync``
   they are marked sent after the push, at once or, for what was sent at or after its instant, at
   the start of the next pass. A crowd (a first claim that comes back full) is claimed by
   ``DISPATCH_THREADS`` threads;
3. send the retries that are due (recorded with their instant when an attempt failed).

Between passes the loop sleeps until the earliest ``next_fire_time`` of any planned job, but never
longer than ``MAX_SLEEP`` (so a job created or changed elsewhere is seen within that time; on
PostgreSQL a NOTIFY from the change ends the sleep at once, see ``wakeup``) nor past the next
heartbeat. A scheduler that finds due jobs locked by another (claiming them, or frozen while
claiming them) sleeps too, rather than ask again at once. SIGTERM and SIGINT end the sleep at once;
the loop finishes its pass, deletes its node row and returns.

An error of the database or the broker (a restart, a lost connection, a timeout: see
``engine.errors``) is logged, the connection is dropped and the loop tries again after a back-off
that doubles up to ``errors.BACKOFF_MAX``: a scheduler outlives its services' outages, and fires
recorded but not sent stay in the outbox meanwhile. Any other exception is a programming error and
ends the loop (``run_scheduler`` then exits with status 1 and the error).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.engine import deadlines, dispatch, errors, heartbeat, store, wakeup, worker
from django_scheduler_api.models import Execution

logger = logging.getLogger(__name__)

# Executions pruned, and outbox entries re-sent, per pass at most (the rest follow next time).
PRUNE_BATCH = 5000
OUTBOX_BATCH = 1000
# Fires a second a scheduler is taken to send before it has measured itself (``lead``): well below
# what it does on a 2-core machine (BENCHMARKS.md), so that a first crowd is sent early enough.
FIRST_PACE = 2000.0
# The fewest fires a pass must send for its pace to count (a few fires measure round trips).
PACE_SAMPLE = 200
# A crowd is given this many times the time its size takes at the measured pace: a pass is measured
# as it went, but the next may share the machine with the workers running the previous crowd.
PACE_MARGIN = 2


@dataclass
class TickStats:
    """What one pass did."""

    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    resent: int = 0
    misfired: int = 0
    retried: int = 0
    lost: int = 0
    pruned: int = 0

    def add(self, other: TickStats) -> None:
        """Add another's counts (of a thread of the same pass) to these."""
        for counter in fields(self):
            setattr(self, counter.name, getattr(self, counter.name) + getattr(other, counter.name))


class Scheduler:
    """One scheduler process. Any number may run against one database (see ``store``)."""

    def __init__(self, node_name: str | None = None, *, clock: Callable[[], datetime] = timezone.now):
        self._lock = threading.Lock()  # the lists below, shared by the threads claiming a crowd
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
        self._failures = 0  # errors of the database or broker in a row
        # django-q2's ``sync`` option (development) runs a task where it is made: then the tasks are
        # made after the claim commits, one thread claims, nothing is handed over early. Read once,
        # here: the production path (tasks made in the claim) is the one taken otherwise.
        self._inline = dispatch.runs_inline()
        self._unpushed: list[Execution] = []  # claimed, but the broker refused them: sent next pass
        self._blocked = False  # the last claim found due jobs, all locked by another scheduler
        self._pace = FIRST_PACE  # fires a second this scheduler sends, as last measured (``lead``)
        # Workers' heartbeats are not judged until then: after an outage they need time to check in.
        self._judge_workers_after = 0.0

    # -- running --------------------------------------------------------------------------------

    def start(self) -> None:
        """Announce the node. (The ``run_scheduler`` command loads the jobs declared in code first.)"""
        self.heartbeat.beat(self.clock())

    def persist(self, step: Callable[[], Any]) -> Any:
        """Run ``step`` until it gets through the database's or the broker's errors (backing off in
        between), or until stopped (then None): how a scheduler starts while its services are down."""
        while not self._stop.is_set():
            failures = self._failures
            result = self._guarded(step)
            if self._failures <= failures:
                return result
            self._wake.wait(errors.backoff(self._failures))
        return None

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
                pause = errors.backoff(self._failures) if failed else self._guarded(self.sleep_time)
                self._wake.wait(pause if pause is not None else errors.backoff(self._failures))
        finally:
            self._listener.stop()
            self._guarded(self.mark_pushed)
            self._guarded(self.heartbeat.stop)

    def stop(self, *args: Any) -> None:
        """Ask the loop to finish its pass and return (safe to call from a signal handler)."""
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        """Whether ``stop`` was called."""
        return self._stop.is_set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.stop)

    def _guarded(self, step: Callable[[], Any]) -> Any:
        """Run a step; on an error of the database or the broker log it, drop the connection and
        return None (the caller backs off). Other exceptions are programming errors: they go on."""
        try:
            result = step()
        except errors.transient_errors() as exc:
            self._failures += 1
            wait = errors.backoff(self._failures)
            if self._failures == 1:
                logger.exception("Scheduler %s: %s; retrying in %.1f s.", self.node, type(exc).__name__, wait)
            else:
                logger.warning("Scheduler %s: still failing (%d in a row): %s: %s; retrying in %.1f s.",
                               self.node, self._failures, type(exc).__name__, exc, wait)  # fmt: skip
            connection.close()
            self._judge_workers_after = time.monotonic() + scheduler_settings.WORKER_TIMEOUT
            return None
        if self._failures:
            logger.warning("Scheduler %s: working again after %d failures.", self.node, self._failures)
            self._failures = 0
        return result

    # -- one pass -------------------------------------------------------------------------------

    def tick(self) -> TickStats:
        """One pass: housekeeping that is due, then every job that is due."""
        stats = TickStats()
        self.mark_pushed()
        self.push_refused(stats)
        self._housekeeping(stats)
        self.release_waiting(stats)
        self.dispatch_due(stats)
        self.send_retries(stats)
        return stats

    def send_retries(self, stats: TickStats | None = None) -> TickStats:
        """Send the retries that are due (docs/scheduling.rst, "Retries"): recorded by the workers
        and sweeps with their instant, sent at it by whichever scheduler passes first."""
        stats = stats or TickStats()
        if self._stop.is_set():
            return stats
        sent = store.send_due_retries(
            self.clock(), limit=OUTBOX_BATCH, send=send, threshold=scheduler_settings.misfire_threshold
        )
        stats.retried += sent.sent
        stats.misfired += sent.misfired
        return stats

    def release_waiting(self, stats: TickStats) -> None:
        """Send the runs kept waiting by their job's overlap policy whose job has a place again
        (``store.release_waiting``), before new fires take the places. A broker's error leaves them
        in the outbox."""
        released = store.release_waiting(limit=OUTBOX_BATCH, clock=self.clock)
        if released:
            stats.sent += send(released)

    def dispatch_due(self, stats: TickStats | None = None) -> TickStats:
        """Claim and send due jobs, batch after batch, until none is left.

        A fire due within ``lead()`` seconds is claimed, recorded and handed to django-q2 now, with
        its instant: a worker claims its executions just before that instant and starts the handlers
        at it (``worker.run_executions``), so neither the scheduler's work nor the worker's is added
        to the fire's lag. A crowd (the first claim comes back full) is claimed by
        ``DISPATCH_THREADS`` threads at once (``_send_in_threads``).
        """
        stats = stats or TickStats()
        self._blocked = False
        upcoming = store.next_due_time()
        if upcoming is None:
            return stats  # no planned job has a next fire
        lead = self.lead(upcoming)
        started, sent_before = time.perf_counter(), stats.sent
        more = self._send_batch(stats, lead, upcoming)
        if more and self._threads() > 1:
            self._send_in_threads(stats, lead)
        while more and self._send_batch(stats, lead):
            pass
        self._measure_pace(stats.sent - sent_before, time.perf_counter() - started)
        return stats

    def _send_batch(
        self, stats: TickStats, lead: float, upcoming: datetime | None = None, *, alone: bool = True
    ) -> bool:
        """Claim, record and send one batch of the fires due within ``lead``; whether it was full
        (more may be due). ``upcoming``: the earliest fire time, if just read.

        Claiming nothing although fires are due means another scheduler holds them (claiming, or
        frozen while claiming): the loop then sleeps rather than ask again at once (``_blocked``).
        Not so for one of several threads of this scheduler (``alone`` false), whose rows may be
        held by its sibling: it just stops, and the pass looks once more alone.
        """
        if self._stop.is_set():
            return False
        instant = self._fire_instant(lead, upcoming)
        if instant is None:
            return False
        limit = scheduler_settings.CLAIM_BATCH_SIZE
        threshold = scheduler_settings.misfire_threshold
        batch = dispatch.Batch(start_at=instant)
        # The rows are recorded as sent, their tasks made in the claim (not with ``sync``, where a
        # task runs as it is made: then they are made after the commit and marked sent after).
        prepare = None if self._inline else batch.prepare
        claim = store.claim_due(
            instant, node=self.node, limit=limit, threshold=threshold, record_sent=prepare
        )
        if not claim.jobs:
            self._blocked = alone
            return False
        # A claim that took longer than the threshold (a frozen process) is judged as a misfire
        # (its task, if made, finds the row skipped and runs nothing).
        to_send = store.judge_misfires(claim.to_send, self.clock(), threshold=threshold)
        stats.misfired += len(claim.to_send) - len(to_send)
        if not batch.prepared:
            batch.executions = to_send
        try:
            with errors.from_broker():
                batch.push()
        except errors.transient_errors():
            self._unmark(batch)
            with self._lock:
                self._unpushed = (self._unpushed + to_send)[-OUTBOX_BATCH:]  # older: the outbox's
            raise
        stats.sent += len(to_send)
        if not batch.prepared:  # (a prepared batch was recorded as sent)
            if instant > self.clock():
                batch.mark_sent()  # before its instant, when no worker claims its rows yet
            else:
                self._unmarked.append(batch)  # at or past it: marked at the next pass
        stats.claimed += claim.jobs
        stats.skipped += claim.skipped
        return claim.jobs == limit

    @staticmethod
    def _unmark(batch: dispatch.Batch) -> None:
        """Record a batch the broker refused as not sent, if the database answers (else its rows
        look sent: the outbox sends them once their instant is ``ENQUEUE_GRACE`` past and the
        queue is empty, as a task the broker lost)."""
        try:
            batch.unmark()
        except errors.transient_errors():
            logger.warning("Could not record %d refused fire(s) as not sent.", len(batch.executions))

    def _threads(self) -> int:
        """How many threads claim a crowd: ``DISPATCH_THREADS`` where claims skip each other's rows
        (``SKIP LOCKED``: PostgreSQL, MariaDB), else one; one with django-q2's ``sync`` option, which
        runs each task in the thread that sends it."""
        if self._inline or not connection.features.has_select_for_update_skip_locked:
            return 1
        return int(scheduler_settings.DISPATCH_THREADS)

    def _send_in_threads(self, stats: TickStats, lead: float) -> None:
        """Claim and send batches in ``_threads()`` threads (this one among them) until none finds
        more; each thread has its own database connection, closed when it ends.

        A claim waits for the database about half its time (BENCHMARKS.md, *Dispatch throughput*):
        two claims at once keep both the database and this process busy, as two schedulers would.
        Claims skip the rows another holds (``SKIP LOCKED``), so no fire is claimed twice; each
        thread's counts are its own until added to ``stats``. The first error stops the others and
        is raised here, as from one thread.
        """
        failed = threading.Event()

        def work(own: TickStats) -> None:
            while not failed.is_set() and self._send_batch(own, lead, alone=False):
                pass

        def thread_work(own: TickStats, raised: list[BaseException]) -> None:
            try:
                work(own)
            except BaseException as exc:  # re-raised in the calling thread
                raised.append(exc)
                failed.set()
            finally:
                connection.close()

        others = [(TickStats(), []) for _ in range(self._threads() - 1)]
        threads = [threading.Thread(target=thread_work, args=pair, daemon=True) for pair in others]
        for thread in threads:
            thread.start()
        try:
            work(stats)
        except BaseException:
            failed.set()
            raise
        finally:
            for thread in threads:
                thread.join()
            for own, _ in others:
                stats.add(own)
        for _, raised in others:
            if raised:
                raise raised[0]

    def lead(self, upcoming: datetime | None = None) -> float:
        """Seconds ahead of their instant that fires are handed over (docs/engine.rst, "Handing
        over early"), for the fires due at ``upcoming`` (the earliest, read if not given).

        ``LOOKAHEAD``; plus, for a broker whose workers poll for tasks (django-q2's ORM broker),
        its poll, so that a worker has the task before the instant; plus twice the time the fires
        due by that instant take to send at this scheduler's measured pace, at most ``LOOKAHEAD_MAX``, so
        that a crowd of them (thousands of jobs at midnight) reaches the workers by its instant,
        not seconds after it. Nothing is added with django-q2's ``sync`` option: the task runs in
        this process, which would wait for the instant instead of sending.
        """
        base = float(scheduler_settings.LOOKAHEAD)
        most = float(scheduler_settings.LOOKAHEAD_MAX)
        if self._inline:
            return base
        base += dispatch.pickup_delay()
        if most <= 0:
            return base
        upcoming = upcoming or store.next_due_time()
        if upcoming is None or upcoming > self.clock() + timedelta(seconds=base + most):
            return base  # nothing due soon enough for its crowd to matter: no count
        crowd = store.due_count(upcoming, cap=int(most * self._pace / PACE_MARGIN) + 1)
        return base + min(most, PACE_MARGIN * crowd / self._pace)

    def _measure_pace(self, sent: int, seconds: float) -> None:
        """Remember the pace of a pass that sent enough fires to measure it (half the last pace,
        half this one: a single slow pass does not double the next lead)."""
        if sent >= PACE_SAMPLE and seconds > 0:
            self._pace = (self._pace + sent / seconds) / 2

    def push_refused(self, stats: TickStats) -> None:
        """Send again what the broker refused in an earlier pass, as soon as it answers again
        (rather than after the outbox's grace). Judged by the misfire rule first; sent twice if
        another scheduler's outbox sent it meanwhile, which runs nothing twice."""
        if self._unpushed:
            pending = store.judge_misfires(
                self._unpushed, self.clock(), threshold=scheduler_settings.misfire_threshold
            )
            stats.resent += send(pending) if pending else 0
            self._unpushed = []

    def mark_pushed(self) -> None:
        """Mark the batches pushed in earlier passes sent (see ``dispatch.Batch``)."""
        while self._unmarked:
            self._unmarked[0].mark_sent()
            self._unmarked.pop(0)

    def _fire_instant(self, lead: float, upcoming: datetime | None = None) -> datetime | None:
        """When to send the next fires: now if some are due, their instant if it comes within
        ``lead`` seconds, None if nothing is due that soon (an idle pass claims nothing).
        ``upcoming``: the earliest fire time, if just read."""
        now = self.clock()
        upcoming = upcoming or store.next_due_time()
        if upcoming is None or upcoming > now + timedelta(seconds=lead):
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
        outbox = store.send_outbox(
            now,
            grace=grace,
            limit=OUTBOX_BATCH,
            send=send,
            threshold=scheduler_settings.misfire_threshold,
            unclaimed=_broker_queue_empty(),
        )
        # Added, not set: ``push_refused`` may have re-sent fires earlier in the same pass.
        stats.resent += outbox.sent
        stats.misfired += outbox.misfired
        if outbox.sent or outbox.misfired:
            logger.warning(
                "Scheduler %s re-sent %d executions unsent or unclaimed; %d were misfires by their "
                "job's policy.", self.node, outbox.sent, outbox.misfired,
            )  # fmt: skip
        if monotonic >= self._judge_workers_after:
            timed_out = store.mark_timed_out(now, grace=timedelta(seconds=deadlines.SWEEP_GRACE))
            if timed_out:
                logger.warning("Scheduler %s: %d executions outran their timeout.", self.node, timed_out)
            worker_timeout = timedelta(seconds=scheduler_settings.WORKER_TIMEOUT)
            orphans = store.mark_orphaned(now, worker_timeout=worker_timeout)
            if orphans:
                logger.warning("Scheduler %s: %d executions lost with their worker.", self.node, orphans)
            stats.lost += orphans
        if monotonic >= self._next_maintenance:
            self._next_maintenance = monotonic + scheduler_settings.MAINTENANCE_INTERVAL
            self._maintain(now, stats)

    def _maintain(self, now: datetime, stats: TickStats) -> None:
        timeout = timedelta(seconds=scheduler_settings.EXECUTION_TIMEOUT)
        tasks = (worker.TASK, *worker.FORMER_TASKS)
        failed = store.mark_failed_tasks(now, since=now - timeout, tasks=tasks)
        stats.lost += store.mark_lost(now, timeout=timeout) + failed
        retention = scheduler_settings.EXECUTION_RETENTION
        if retention is not None:
            stats.pruned = store.prune(now, retention=timedelta(seconds=retention), limit=PRUNE_BATCH)
        heartbeat.forget_dead_nodes(now, timedelta(seconds=scheduler_settings.NODE_TIMEOUT))
        heartbeat.forget_dead_workers(now, timedelta(seconds=scheduler_settings.WORKER_TIMEOUT))
        if stats.lost or stats.pruned:
            logger.info("Scheduler %s: %d lost, %d pruned.", self.node, stats.lost, stats.pruned)

    def sleep_time(self) -> float:
        """Seconds until the earliest next fire is within ``lead`` or the earliest retry is
        due, at most ``MAX_SLEEP`` and the next heartbeat; fires are not waited for when the due jobs
        are locked by another scheduler, which is claiming them or frozen while holding them."""
        longest = min(float(scheduler_settings.MAX_SLEEP), max(0.0, self._next_beat - time.monotonic()))
        now = self.clock()
        waits = [longest]
        retry = store.next_retry_time()
        if retry is not None:
            waits.append((retry - now).total_seconds())
        due = None if self._blocked else store.next_due_time()
        if due is not None:
            waits.append((due - now).total_seconds() - self.lead(due))
        return max(0.0, min(waits))


def _broker_queue_empty() -> bool:
    """Whether django-q2's queue is empty: then an execution sent ``ENQUEUE_GRACE`` ago and still
    not claimed was lost by the broker (a restart without persistence, a worker killed with the task
    in hand), not waiting behind others, and is sent again. Sending it again while the queue is
    long would only lengthen the queue."""
    with errors.from_broker():
        return dispatch.broker().queue_size() == 0


def send(executions: list[Execution]) -> int:
    """``dispatch.send``, its broker's exceptions all ``errors.BrokerError``."""
    with errors.from_broker():
        return dispatch.send(executions)
