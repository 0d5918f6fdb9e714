"""Every query of the engine: claim due jobs, record fires, the outbox, lost and old executions, and
the worker's claim of its executions and record of their outcomes.

This is the only database-specific module of the engine. Correctness never rests on a lock alone:

- Claims lock due job rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` where the database has it
  (PostgreSQL), so concurrent schedulers share the work without waiting for one another; on SQLite the
  claim is one short transaction, which the settings' ``transaction_mode = IMMEDIATE`` makes take the
  write lock at its start, so claims are serialised.
- Whatever happens to locks (a job saved by the API with a stale ``next_fire_time``, a clock step), the
  unique constraint on (job, scheduled fire time) lets each fire be recorded once; an insert that
  collides is dropped, not sent.
- Recording and sending are two steps (a worker must find the row it is given), so a scheduler that
  dies between them leaves rows with ``enqueued_at`` null: the outbox that any scheduler sends later.
  A task the broker lost leaves its rows ``queued`` with ``enqueued_at`` set: sent again too.
- A claim is bounded in time on PostgreSQL (``CLAIM_TIMEOUT``): a scheduler frozen or cut off while
  holding job rows is disconnected by the database, its claim rolled back, the rows free for others.
- Lateness is judged on every path by the job's misfire policy (``judge_misfires``): a fire that
  waited in the outbox, or in a frozen scheduler, past ``MISFIRE_THRESHOLD`` is not run late.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, DateTimeField, F, Model, Q, QuerySet, Value
from django.db.models.base import ModelState
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from django_scheduler_api import planning, retries
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.engine import deadlines
from django_scheduler_api.models import (
    Calendar,
    DroppedMisfires,
    Execution,
    Job,
    PrunedExecutions,
    WorkerNode,
)

logger = logging.getLogger(__name__)

# The job columns a claim needs; loading only these keeps the hot query narrow.
CLAIM_FIELDS = (
    "id",
    "handler",
    *Job.TIMING_FIELDS,
    "misfire_policy",
    "overlap_policy",
    "max_concurrent",
    "timeout",
    "data",
    "next_fire_time",
    "previous_fire_time",
)
PENDING = (Execution.Status.QUEUED, Execution.Status.RUNNING)
# The triggers whose lateness the misfire rule judges (docs/engine.rst, "Faults").
JUDGED = (Execution.Trigger.SCHEDULE, Execution.Trigger.RETRY)
# The job columns a release reads.
OVERLAP_FIELDS = ("id", "overlap_policy", "max_concurrent")
# The statuses that hold a place under a job's overlap policy: pending, and kept waiting.
OCCUPYING = (*PENDING, Execution.Status.WAITING)
# The columns an execution's outcome writes.
OUTCOME_FIELDS = ("status", "started_at", "finished_at", "duration_ms", "result", "error", "traceback", "log")
OUTCOME_DEFAULTS = {"result": None, "error": None, "traceback": ""}
# SQLite returns rows from an UPDATE since this version (PostgreSQL always has; MySQL and MariaDB not).
SQLITE_UPDATE_RETURNING = (3, 35)
# Up to this many distinct (next, previous) pairs are written with one UPDATE each; more use one
# CASE-based bulk update. Jobs sharing a schedule share the pair, so the common case is one UPDATE.
GROUPED_UPDATE_LIMIT = 8


@dataclass
class Claim:
    """The outcome of one claim: how many jobs were due, what was recorded and what must be sent."""

    jobs: int = 0
    recorded: int = 0
    skipped: int = 0
    to_send: list[Execution] = field(default_factory=list)


def _lock(queryset: QuerySet, *, of: tuple[str, ...] = ()) -> QuerySet:
    """Lock the selected rows, skipping rows another scheduler holds, where the database can
    (only those of the tables ``of`` names, where it can say so: not the joined jobs' rows)."""
    if connection.features.has_select_for_update_skip_locked:
        of = of if connection.features.has_select_for_update_of else ()
        return queryset.select_for_update(skip_locked=True, of=of)
    return queryset


def next_due_time() -> datetime | None:
    """The earliest fire time of any planned job (an index-only look at ``sched_job_due_idx``)."""
    return (
        Job.objects.filter(state=Job.State.PLANNED, next_fire_time__isnull=False)
        .order_by("next_fire_time")
        .values_list("next_fire_time", flat=True)
        .first()
    )


def due_count(until: datetime, *, cap: int) -> int:
    """How many planned jobs are due at ``until`` or before, counting no further than ``cap`` (a
    range scan of ``sched_job_due_idx`` that stops there): the size of the crowd of fires a
    scheduler is about to send."""
    due = Job.objects.filter(state=Job.State.PLANNED, next_fire_time__lte=until).order_by()
    return due.values("pk")[:cap].count()


def take_back_early_fires(jobs: list[Job], now: datetime) -> int:
    """Take back the scheduled fires of ``jobs`` that were handed to the workers ahead of their
    instant and that no worker has claimed yet, as if they had never been claimed; how many.

    For a pause (docs/engine.rst, "Handing over early"), as Quartz skips a trigger it acquired
    ahead of time and that was paused before it fired. The rows go, and each job's fire times are
    put back to what they were before the earliest of them, so that on resume the fire is judged by
    the job's misfire policy like any fire missed while paused. The caller holds the jobs' rows
    locked (and, on SQLite, the write lock): a worker's claim of these rows waits for the commit and
    then finds nothing to claim; a fire a worker has claimed (``worker.CLAIM_AHEAD`` before its
    instant) runs.
    """
    early = Execution.objects.filter(
        job_id__in=[job.pk for job in jobs],
        status=Execution.Status.QUEUED,
        trigger=Execution.Trigger.SCHEDULE,
        fire_time__gt=now,
    )
    rows = list(
        _lock(early.order_by("scheduled_fire_time")).values_list(
            "pk", "job_id", "scheduled_fire_time", "previous_fire_time"
        )
    )
    if not rows:
        return 0
    earliest: dict[Any, tuple[datetime, datetime | None]] = {}
    for _, job_id, scheduled, previous in rows:
        earliest.setdefault(job_id, (scheduled, previous))
    Execution.objects.filter(pk__in=[row[0] for row in rows]).delete()
    for job in jobs:
        if job.pk in earliest:
            job.next_fire_time, job.previous_fire_time = earliest[job.pk]
            job.save(update_fields=["next_fire_time", "previous_fire_time"])
    return len(rows)


def claim_due(
    now: datetime,
    *,
    node: str,
    limit: int,
    threshold: timedelta,
    record_sent: Callable[[list[Execution]], None] | None = None,
) -> Claim:
    """Claim up to ``limit`` due jobs, record their fires and move their fire times, in one transaction.

    ``record_sent``: called with the fires to send before their rows are inserted; it makes their
    tasks and writes each one's task id and ``enqueued_at`` (``dispatch.Batch.prepare``), so that
    the rows go in recorded as sent and no second write marks them (docs/engine.rst, "The outbox").
    """
    with transaction.atomic():
        bound_transaction()
        due = Job.objects.filter(state=Job.State.PLANNED, next_fire_time__lte=now)
        jobs = _load(Job, CLAIM_FIELDS, _lock(due.order_by("next_fire_time")), limit)
        if not jobs:
            return Claim()
        occupancy = occupancies([j.pk for j in jobs if j.overlap_policy != Job.OverlapPolicy.ALLOW])
        rules = calendar_rules(name for job in jobs for name in job.calendars or ())
        executions, dropped = [], {}
        for job in jobs:
            plan = _plan(job, now, threshold, occupancy.get(job.pk, planning.Occupancy()), rules=rules)
            executions.extend(_executions(job, plan, now, node))
            if plan.dropped_misfire is not None:
                dropped[job.pk] = (1, plan.dropped_misfire)
            job.next_fire_time, job.previous_fire_time = plan.next_fire_time, plan.previous_fire_time
        if record_sent is not None:
            record_sent([e for e in executions if e.status == Execution.Status.QUEUED])
        recorded = record_once(executions)
        _save_fire_times(jobs)
        count_dropped_misfires(dropped, now)
    to_send = [e for e in recorded if e.status == Execution.Status.QUEUED]
    return Claim(len(jobs), len(recorded), len(recorded) - len(to_send), to_send)


def release_waiting(*, limit: int, clock: Callable[[], datetime] = timezone.now) -> list[Execution]:
    """Let go the runs kept ``waiting`` (overlap policy ``buffer_one``) whose job has a place again:
    each becomes ``queued``, with ``released_at`` the moment it was decided (read from ``clock``
    once the jobs are locked, so it follows every claim that saw the run waiting). Up to ``limit``
    jobs.

    Under the jobs' row locks, as a claim: the count of pending runs and the release are one
    decision, which no claim or other release of the same job can interleave with (PostgreSQL and
    MariaDB: ``FOR UPDATE``, skipping a job another scheduler holds, released at its next pass;
    SQLite: the transaction's write lock). A run that ends frees its place without the lock; at
    worst a release waits for the next pass. The rows are the database's, so a restart loses none.
    """
    waiting = Execution.objects.filter(status=Execution.Status.WAITING).order_by()
    # Outside a transaction: most passes find none, and take no lock for it (SQLite's is the database's).
    job_ids = list(waiting.values_list("job_id", flat=True).distinct()[:limit])
    if not job_ids:
        return []
    with transaction.atomic():
        bound_transaction()
        jobs = list(_lock(Job.objects.filter(pk__in=job_ids).order_by("pk").only(*OVERLAP_FIELDS)))
        occupancy = occupancies([job.pk for job in jobs])
        free = [job.pk for job in jobs if _has_room(job, occupancy.get(job.pk, planning.Occupancy()))]
        now = clock()
        first = {}
        for execution in waiting.filter(job_id__in=free).order_by("-scheduled_fire_time"):
            first[execution.job_id] = execution  # the earliest of a job's (one, unless its policy changed)
        released = list(first.values())
        Execution.objects.filter(pk__in=[e.pk for e in released], status=Execution.Status.WAITING).update(
            status=Execution.Status.QUEUED, released_at=now
        )
    for execution in released:
        execution.status, execution.released_at = Execution.Status.QUEUED, now
    return released


def _has_room(job: Job, occupancy: planning.Occupancy) -> bool:
    limit = planning.concurrency_limit(job.overlap_policy, job.max_concurrent)
    return limit is None or occupancy.pending < limit


def bound_transaction() -> None:
    """On PostgreSQL, let the database end the current transaction if it waits for a lock, runs a
    statement or sits idle (its process frozen or cut off) longer than ``CLAIM_TIMEOUT``.

    A claim holds job rows locked; other schedulers skip them (``SKIP LOCKED``). Without a bound a
    frozen scheduler would keep them from every scheduler until it woke (a GC pause, a stopped VM,
    a partition: minutes). With it the server closes the session, rolls the claim back (nothing
    was sent: sending follows the commit) and the rows are claimed by the others.
    """
    if connection.vendor != "postgresql":
        return
    milliseconds = max(1, int(float(scheduler_settings.CLAIM_TIMEOUT) * 1000))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true), "
            "set_config('idle_in_transaction_session_timeout', %s, true)",
            [str(milliseconds)] * 3,
        )


def calendar_rules(names: Iterable[str]) -> dict[str, planning.CalendarRules]:
    """The rules of the calendars named (one query, none when no name is given), by id."""
    wanted = set(names)
    if not wanted:
        return {}
    return {
        calendar.id: planning.CalendarRules.of(calendar)
        for calendar in Calendar.objects.filter(id__in=wanted)
    }


def _plan(
    job: Job,
    now: datetime,
    threshold: timedelta,
    occupancy: planning.Occupancy,
    *,
    rules: dict[str, planning.CalendarRules],
) -> planning.FirePlan:
    try:
        plan = planning.plan_due_job(
            planning.Schedule.of(job, rules),
            job.next_fire_time,
            now,
            misfire_policy=job.misfire_policy,
            threshold=threshold,
            previous_fire_time=job.previous_fire_time,
        )
    except planning.ExcludedEverything as exc:
        # Saving refuses such calendars; one can only get here by the calendar search giving up
        # further on. The job stops (no next fire) rather than holding up every other job's claim.
        logger.error("Job %s has no next fire and stops: %s", job.pk, exc)
        return planning.FirePlan((), None, job.previous_fire_time)
    fires = planning.apply_overlap(
        plan.fires, policy=job.overlap_policy, max_concurrent=job.max_concurrent, occupancy=occupancy
    )
    return planning.FirePlan(fires, plan.next_fire_time, plan.previous_fire_time, plan.dropped_misfire)


def _load(model: type[Model], fields: tuple[str, ...], queryset: QuerySet, limit: int) -> list[Any]:
    """The first ``limit`` rows of ``queryset`` as instances of ``model`` holding ``fields`` only,
    like ``queryset.only(*fields)`` (any other field is fetched when read) but built from plain
    values: Django's model construction cost more than the claim's queries at thousands of jobs a
    second (BENCHMARKS.md, *Dispatch throughput*)."""
    names = [model._meta.get_field(name).attname for name in fields]
    db = queryset.db
    return [
        _instance(model, dict(zip(names, row, strict=True)), db)
        for row in queryset.values_list(*fields)[:limit]
    ]


def new_row(model: type[Model], **values: Any) -> Any:
    """A new, unsaved instance of ``model``: ``values`` plus every other field's default, as
    ``model(**values)`` makes it, at a fifth of the cost (Django's ``__init__`` looks up each field
    and keyword and sends the init signals, which no model of this app has receivers for)."""
    constant, computed = _defaults(model)
    row = {**constant, **values}
    for model_field in computed:
        if model_field.attname not in values:
            row[model_field.attname] = model_field.get_default()
    return _instance(model, row, None)


@cache
def _defaults(model: type[Model]) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """A model's constant field defaults by attribute name, and its fields whose default is computed
    (a callable, such as ``uuid4`` or ``dict``: called for every row)."""
    fields = model._meta.concrete_fields
    computed = tuple(f for f in fields if callable(f.default))
    return {f.attname: f.get_default() for f in fields if f not in computed}, computed


def _instance(model: type[Model], values: dict[str, Any], db: str | None) -> Any:
    instance = model.__new__(model)
    instance.__dict__.update(values)
    instance._state = ModelState()
    instance._state.adding, instance._state.db = db is None, db
    return instance


# The version (4) and variant (RFC 4122) bits of a random UUID, as ``uuid.UUID(version=4)`` sets them.
UUID4_KEEP = ~(0xC000 << 48) & ~(0xF000 << 64)
UUID4_SET = (0x8000 << 48) | (0x4000 << 64)


class RandomIds:
    """Version-4 UUIDs, as ``uuid.uuid4`` makes them, from one read of the OS's random source per
    ``POOL`` ids instead of one each (a system call: 5 µs, a tenth of a fire's whole cost at
    10,000 fires a second). A forked process draws its own: a pool inherited from the parent is
    dropped, so parent and child never hand out the same id."""

    POOL = 256

    def __init__(self) -> None:
        self._pid = 0
        self._ids: list[uuid.UUID] = []

    def next(self) -> uuid.UUID:
        if not self._ids or self._pid != os.getpid():
            self._pid = os.getpid()
            data = os.urandom(16 * self.POOL)
            numbers = (int.from_bytes(data[i : i + 16], "big") for i in range(0, len(data), 16))
            self._ids = [uuid.UUID(int=n & UUID4_KEEP | UUID4_SET) for n in numbers]
        return self._ids.pop()


_random_ids = RandomIds()


def occupancies(job_ids: list[Any]) -> dict[Any, planning.Occupancy]:
    """Each job's runs pending (queued or running) and waiting, in one query; read under the jobs'
    row locks (the claim's, the release's), so two schedulers never both take the last place."""
    if not job_ids:
        return {}
    rows = (
        Execution.objects.filter(job_id__in=job_ids, status__in=OCCUPYING)
        .order_by()
        .values_list("job_id", "status")
        .annotate(n=Count("pk"))
    )
    counts: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for job_id, status, n in rows:
        counts[job_id]["waiting" if status == Execution.Status.WAITING else "pending"] += n
    return {job_id: planning.Occupancy(**values) for job_id, values in counts.items()}


def _executions(job: Job, plan: planning.FirePlan, now: datetime, node: str) -> list[Execution]:
    """The rows of a plan's fires; each knows the fires before and after it (its handler's context)."""
    times = [job.previous_fire_time, *(fire.scheduled for fire in plan.fires), plan.next_fire_time]
    return [
        _execution(job, fire, now, node, previous=times[i], following=times[i + 2])
        for i, fire in enumerate(plan.fires)
    ]


def _execution(
    job: Job,
    fire: planning.Fire,
    now: datetime,
    node: str,
    *,
    previous: datetime | None,
    following: datetime | None,
) -> Execution:
    status = {"status": Execution.Status.SKIPPED, "finished_at": now} if fire.skipped else {}
    if fire.waiting:
        status = {"status": Execution.Status.WAITING}
    return new_row(
        Execution,
        id=_random_ids.next(),
        **job.run_fields(),
        trigger=fire.trigger,
        scheduled_fire_time=fire.scheduled,
        fire_time=now,
        previous_fire_time=previous,
        next_fire_time=following,
        node=node,
        **status,
    )


def record_once(executions: list[Execution]) -> list[Execution]:
    """Insert, letting the unique constraint drop fires already recorded; return those inserted.

    A claim's fires and a backfill's go through here: whichever records a fire time first, the other
    records nothing for it. PostgreSQL: one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO
    NOTHING`` (``_insert_unnest``). Elsewhere the common case (no collision) is one plain bulk insert
    in a savepoint, and only when the constraint refuses it is the batch inserted again skipping
    collisions. Either way, when fewer rows went in than were given, the survivors are read back.
    """
    if not executions:
        return []
    if connection.vendor == "postgresql":
        if _insert_unnest(executions) == len(executions):
            return executions
    else:
        try:
            with transaction.atomic():
                Execution.objects.bulk_create(executions, batch_size=500)
            return executions
        except IntegrityError:
            pass
        Execution.objects.bulk_create(executions, ignore_conflicts=True, batch_size=500)
    ids = [e.pk for e in executions]
    stored = set(Execution.objects.filter(pk__in=ids).values_list("pk", flat=True))
    return [e for e in executions if e.pk in stored]


def _insert_unnest(executions: list[Execution]) -> int:
    """Insert the rows as one statement from one array per column (PostgreSQL); how many went in.

    Django's ``bulk_create`` prepares every value of every row through its field machinery, which
    cost more than the database's work at thousands of fires a second (BENCHMARKS.md, *Dispatch
    throughput*). Here each column is one array literal (``pg_array``), built from the attributes
    directly; the columns are the model's, so a field added later is inserted too. A fire already
    recorded (the unique constraint) is skipped, not an error, so no savepoint is needed.
    """
    now = timezone.now()
    for execution in executions:
        execution.created_at = execution.created_at or now  # what ``auto_now_add`` would set
    fields = [f for f in Execution._meta.concrete_fields if not getattr(f, "generated", False)]
    table = connection.ops.quote_name(Execution._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    params = [pg_array(_texts(f, [getattr(e, f.attname) for e in executions])) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING", params
        )
        return cursor.rowcount


def _texts(model_field: Any, values: list[Any]) -> list[str | None]:
    """A column's values as PostgreSQL reads them in an array literal of the field's type."""
    if model_field.get_internal_type() == "JSONField":
        encoder = model_field.encoder
        return [None if v is None else json.dumps(v, cls=encoder) for v in values]
    if model_field.get_internal_type() == "DateTimeField":
        # A claim's fires share a handful of instants (the fire, its neighbours, now): format each once.
        formatted = {v: _text(v) for v in set(values)}
        return [formatted[v] for v in values]
    return [_text(v) for v in values]


def _text(value: Any) -> str | None:
    """A scalar as PostgreSQL reads it in an array literal (None: NULL)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def pg_array(values: list[str | None]) -> str:
    """A PostgreSQL array literal (``{"a","b",NULL}``) of text values, each quoted and escaped.

    Passing one string per column (cast to the column's array type in SQL) costs the driver one
    value instead of one adaptation per element: what makes a 500-row statement cheap to send.
    """
    quoted = (
        "NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values
    )
    return "{" + ",".join(quoted) + "}"


def _save_fire_times(jobs: list[Job]) -> None:
    """Write the claimed jobs' new fire times: on PostgreSQL one ``UPDATE ... FROM unnest(...)``;
    elsewhere one ``UPDATE`` per distinct pair of times (jobs sharing a schedule share it), or one
    CASE-based bulk update when there are many."""
    if connection.vendor == "postgresql":
        _save_fire_times_unnest(jobs)
        return
    groups: dict[tuple[datetime | None, datetime | None], list[str]] = defaultdict(list)
    for job in jobs:
        groups[(job.next_fire_time, job.previous_fire_time)].append(job.pk)
    if len(groups) > GROUPED_UPDATE_LIMIT:
        Job.objects.bulk_update(jobs, ["next_fire_time", "previous_fire_time"], batch_size=500)
        return
    for (next_fire, previous_fire), ids in groups.items():
        Job.objects.filter(pk__in=ids).update(next_fire_time=next_fire, previous_fire_time=previous_fire)


def _save_fire_times_unnest(jobs: list[Job]) -> None:
    table = connection.ops.quote_name(Job._meta.db_table)
    pk = Job._meta.pk
    key = f"{pk.db_type(connection)}[]"
    times = [
        pg_array([_text(j.pk) for j in jobs]),
        pg_array([_text(j.next_fire_time) for j in jobs]),
        pg_array([_text(j.previous_fire_time) for j in jobs]),
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS j SET next_fire_time = v.next, previous_fire_time = v.previous "
            f"FROM unnest(%s::{key}, %s::timestamptz[], %s::timestamptz[]) AS v(id, next, previous) "
            f"WHERE j.{connection.ops.quote_name(pk.column)} = v.id",
            times,
        )


@dataclass
class Outbox:
    """What one look at the outbox did."""

    sent: int = 0
    misfired: int = 0


def send_outbox(
    now: datetime,
    *,
    grace: timedelta,
    limit: int,
    send: Callable[[list[Execution]], int],
    threshold: timedelta,
    unclaimed: bool = True,
) -> Outbox:
    """Send executions still queued ``grace`` after they were recorded and never sent (their
    scheduler died first) or, with ``unclaimed``, after they were sent (the broker lost the task).

    Each is first judged by its job's misfire policy (``judge_misfires``): one that waited past the
    threshold is not run late under ``do_nothing``. The rows stay locked while they are sent, so two
    schedulers do not both send them; a second send is harmless anyway, because the task's
    queued -> running claim runs a handler once. A row sent again has its ``enqueued_at`` moved to
    now, so it is sent at most once per ``grace``.
    """
    # An unsent retry waits for its instant and its job's state: ``send_due_retries`` sends it.
    waiting = Q(enqueued_at__isnull=True, created_at__lt=now - grace) & ~Q(trigger=Execution.Trigger.RETRY)
    if unclaimed:
        # Not claimed ``grace`` after it was sent and after its instant: a fire handed over early is
        # claimed just before its instant (``worker.CLAIM_AHEAD``), not when it arrives.
        waiting |= Q(enqueued_at__lt=now - grace, fire_time__lt=now - grace)
    with transaction.atomic():
        queued = Execution.objects.filter(waiting, status=Execution.Status.QUEUED)
        executions = list(_lock(queued.order_by("created_at"))[:limit])
        to_send = judge_misfires(executions, now, threshold=threshold)
        sent = send(to_send) if to_send else 0
    return Outbox(sent, len(executions) - len(to_send))


def judge_misfires(executions: list[Execution], now: datetime, *, threshold: timedelta) -> list[Execution]:
    """The executions still worth running ``now``; those the job's misfire policy drops
    (``misfires``) are recorded ``skipped`` (only if still queued) with the reason, and counted in
    ``DroppedMisfires`` in the same transaction."""
    dropped = misfires(executions, now, threshold=threshold)
    if dropped:
        error = misfire_error(dropped, now, threshold)
        by_job: dict[str, list[Execution]] = defaultdict(list)
        for execution in dropped:
            by_job[execution.job_id].append(execution)
        with transaction.atomic():
            counts = {}
            for job_id, late in by_job.items():
                ids = [e.pk for e in late]
                still_queued = Execution.objects.filter(pk__in=ids, status=Execution.Status.QUEUED)
                changed = still_queued.update(status=Execution.Status.SKIPPED, finished_at=now, error=error)
                counts[job_id] = (changed, max(e.scheduled_fire_time for e in late))
            count_dropped_misfires(counts, now)
    skipped = {e.pk for e in dropped}
    return [e for e in executions if e.pk not in skipped]


def misfire_error(dropped: list[Execution], now: datetime, threshold: timedelta) -> str:
    late_by = max((now - e.scheduled_fire_time).total_seconds() for e in dropped)
    return (
        f"Misfire: {late_by:.0f} s late (MISFIRE_THRESHOLD is {threshold.total_seconds():g} s); "
        "not run, by the job's misfire policy."
    )


def misfires(executions: list[Execution], now: datetime, *, threshold: timedelta) -> list[Execution]:
    """The executions the job's misfire policy drops ``now`` (one query, and only if some are late).

    The rule of the claim (``planning.plan_due_job``) on the paths after it, as Quartz judges a
    trigger by how late it is: a scheduled fire later than ``threshold`` is a misfire. Under
    ``do_nothing`` it does not run; under ``fire_and_proceed`` one fire per job runs now (the
    earliest, as the claim records it) and the others are dropped. Manual triggers, misfire fires
    (already the policy's answer) and one-shot jobs (whose only fire always runs) are never dropped.
    A retry is judged as a fire of the schedule, from the instant it was due (docs/scheduling.rst,
    "Retries"). A run kept waiting by its job's overlap policy is late from its release
    (``released_at``), not from its fire: the wait was the policy's.
    """
    late = [
        e
        for e in executions
        if e.trigger in JUDGED and now - (e.released_at or e.scheduled_fire_time) > threshold
    ]
    if not late:
        return []
    repeating = Q(cron_expression__gt="") | Q(interval__isnull=False)
    jobs = Job.objects.filter(repeating, pk__in={e.job_id for e in late})
    policies = dict(jobs.values_list("pk", "misfire_policy"))
    dropped, proceeding = [], set()
    for execution in sorted(late, key=lambda e: e.scheduled_fire_time):
        policy = policies.get(execution.job_id)
        if policy is None:
            continue  # a one-shot, or a job deleted since: run what was recorded
        if policy == Job.MisfirePolicy.FIRE_AND_PROCEED and execution.job_id not in proceeding:
            proceeding.add(execution.job_id)
            continue
        dropped.append(execution)
    return dropped


def count_dropped_misfires(counts: dict[str, tuple[int, datetime]], now: datetime) -> None:
    """Add fires dropped as misfires, {job id: (how many, the latest scheduled fire time)}, to
    ``DroppedMisfires`` in the caller's transaction: one UPDATE per job, an INSERT the first time (a
    concurrent creator wins; then add again)."""
    for job_id, (count, fire_time) in counts.items():
        if not count:
            continue
        tally = DroppedMisfires.objects.filter(job_id=job_id)
        add = {
            "count": F("count") + count,
            "last_fire_time": Greatest("last_fire_time", Value(fire_time)),
            "last_dropped_at": Greatest("last_dropped_at", Value(now)),
        }
        if tally.update(**add):
            continue
        try:
            with transaction.atomic():
                DroppedMisfires.objects.create(
                    job_id=job_id, count=count, last_fire_time=fire_time, last_dropped_at=now
                )
        except IntegrityError:
            tally.update(**add)


def mark_orphaned(now: datetime, *, worker_timeout: timedelta) -> int:
    """Running executions whose worker process stopped its heartbeat ``worker_timeout`` ago (or
    never had one that long) become lost: the worker died with them (SIGKILL, out of memory, a
    host gone). Executions claimed by a process without a heartbeat (``worker`` empty) wait for
    ``EXECUTION_TIMEOUT`` instead."""
    cutoff = now - worker_timeout
    alive = WorkerNode.objects.filter(last_seen__gte=cutoff).values("name")
    orphans = Execution.objects.filter(status=Execution.Status.RUNNING, started_at__lt=cutoff).exclude(
        worker=""
    )
    return _lose(
        orphans.exclude(worker__in=alive), now, "its worker process stopped its heartbeat (WORKER_TIMEOUT)."
    )


def mark_timed_out(now: datetime, *, grace: timedelta) -> int:
    """Running executions with a timeout still running ``grace`` past their deadline become
    ``failed`` with the timeout's error: their worker could not stop the handler and record it
    (django-q2 replaced the worker process), docs/scheduling.rst "Timeouts".

    The running executions are few (at most the workers' handler threads), so the deadlines are
    computed here rather than with each database's own date arithmetic. Only rows still running
    are written: a worker's record that came first stands. A timed-out run is a failure, so its
    job's retry policy records the next attempt in the same transaction (docs/scheduling.rst,
    "Retries").
    """
    running = Execution.objects.filter(status=Execution.Status.RUNNING, timeout__isnull=False)
    overdue: dict[int, list[Any]] = defaultdict(list)
    for pk, started_at, timeout in running.values_list("pk", "started_at", "timeout"):
        if started_at is not None and started_at + timedelta(seconds=timeout) + grace < now:
            overdue[timeout].append(pk)
    failed = 0
    for timeout, ids in overdue.items():
        with transaction.atomic():
            failed += Execution.objects.filter(pk__in=ids, status=Execution.Status.RUNNING).update(
                status=Execution.Status.FAILED, finished_at=now, error=deadlines.timeout_error(timeout)
            )
            timed_out = Execution.objects.filter(pk__in=ids, status=Execution.Status.FAILED, finished_at=now)
            record_retries(timed_out)
    return failed


def mark_lost(now: datetime, *, timeout: timedelta) -> int:
    """Executions whose worker died (running too long) or whose task django-q2 lost (never started)."""
    cutoff = now - timeout
    running = Execution.objects.filter(status=Execution.Status.RUNNING, started_at__lt=cutoff)
    never_started = Execution.objects.filter(status=Execution.Status.QUEUED, enqueued_at__lt=cutoff)
    return _lose(running, now, "its worker stopped answering within EXECUTION_TIMEOUT.") + _lose(
        never_started, now, "django-q2 never started it within EXECUTION_TIMEOUT."
    )


def mark_failed_tasks(now: datetime, *, since: datetime, tasks: Iterable[str]) -> int:
    """Running executions whose django-q2 task failed outside their handlers (since ``since``)
    become lost.

    A handler's own failure is recorded by the task. The task itself fails only when what surrounds
    the handlers raises, the claim or the write of the outcomes (a database error that outlasted
    ``worker.RECORD_PATIENCE``), or its payload cannot be read. django-q2 keeps such a failure, with
    the execution ids in its arguments; the executions it left running would otherwise wait
    ``EXECUTION_TIMEOUT`` to be lost. The ones it left queued ran nothing: the outbox sends them
    again (in a task of their own, without the payload's unreadable ids), as a task the broker lost.
    ``tasks`` are the task's dotted paths (``worker.TASK`` and its former paths).
    """
    from django_q.models import Failure

    lost = 0
    for failure in Failure.objects.filter(func__in=list(tasks), stopped__gte=since).only("args", "result"):
        ids = _execution_ids(failure.args)
        if ids:
            carried = Execution.objects.filter(pk__in=ids, status=Execution.Status.RUNNING)
            lost += _lose(
                carried, now, f"django-q2 reports that its task failed: {str(failure.result)[:500]}"
            )
    return lost


def _execution_ids(args: object) -> list[object]:
    """The valid execution ids among a task's arguments: ``run_executions([ids])``, or the former
    ``run_execution(id)``."""
    first = args[0] if isinstance(args, list | tuple) and args else None
    values = first if isinstance(first, list) else [first] if isinstance(first, str) else []
    ids = []
    for value in values:
        try:
            ids.append(Execution._meta.pk.to_python(value))
        except ValidationError:
            continue  # an unreadable id is why some tasks fail; the others are still worth finding
    return ids


def _lose(executions: QuerySet, now: datetime, why: str) -> int:
    """Mark these executions lost and, in the same transaction, record the next attempt of those
    whose job retries lost executions (``retry_on_lost``)."""
    ids = list(executions.values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        count = executions.filter(pk__in=ids).update(
            status=Execution.Status.LOST, finished_at=now, error=f"Lost: {why}"
        )
        record_retries(Execution.objects.filter(pk__in=ids, status=Execution.Status.LOST, finished_at=now))
    return count


def prune(now: datetime, *, retention: timedelta, limit: int) -> int:
    """Delete up to ``limit`` finished executions created before ``now - retention``.

    What is deleted is added to ``PrunedExecutions`` in the same transaction, so the metrics' counts
    of fires and outcomes never go down.
    """
    old = Execution.objects.filter(status__in=Execution.FINISHED, created_at__lt=now - retention)
    ids = list(old.values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    with transaction.atomic():
        doomed = Execution.objects.filter(pk__in=ids)
        counts = list(doomed.order_by().values_list("trigger", "status").annotate(n=Count("pk")))
        deleted = doomed.delete()[0]
        for trigger, status, count in counts:
            _add_pruned(trigger, status, count)
    return deleted


def _add_pruned(trigger: str, status: str, count: int) -> None:
    """Add to a tally row, creating it the first time (a concurrent creator wins; then add again)."""
    tally = PrunedExecutions.objects.filter(trigger=trigger, status=status)
    if tally.update(count=F("count") + count):
        return
    try:
        with transaction.atomic():
            PrunedExecutions.objects.create(trigger=trigger, status=status, count=count)
    except IntegrityError:
        tally.update(count=F("count") + count)


def mark_sent(executions: list[Execution], now: datetime, task_ids: list[str]) -> None:
    """Close the outbox entries of executions handed to django-q2, recording each one's task id.

    Django's CASE-based ``bulk_update`` costs more than the sending itself at thousands of rows, so
    PostgreSQL gets one ``UPDATE ... FROM unnest(ids, task ids)`` and other databases one statement
    executed for many rows. On PostgreSQL the rows a worker is claiming at this moment are skipped,
    not waited for: the scheduler's next fires must not wait on workers, and the claim sets
    ``enqueued_at`` itself (``claim_executions``). Waiting would also risk a deadlock, two statements
    locking shared rows in different orders.
    """
    if not executions:
        return
    task_ids = [task_id[:64] for task_id in task_ids]
    table = connection.ops.quote_name(Execution._meta.db_table)
    pk = Execution._meta.pk
    when = Execution._meta.get_field("enqueued_at").get_db_prep_value(now, connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ids = pg_array([str(execution.pk) for execution in executions])
            cursor.execute(
                f"WITH free AS (SELECT id FROM {table} WHERE id = ANY(%s::uuid[]) FOR UPDATE SKIP LOCKED) "
                f"UPDATE {table} AS e SET enqueued_at = %s, task_id = v.task_id "
                "FROM unnest(%s::uuid[], %s::varchar[]) AS v(id, task_id), free "
                "WHERE e.id = v.id AND e.id = free.id",
                [ids, when, ids, pg_array(task_ids)],
            )
        else:
            ids = [pk.get_db_prep_value(execution.pk, connection) for execution in executions]
            sql = f"UPDATE {table} SET enqueued_at = %s, task_id = %s WHERE id = %s"
            cursor.executemany(sql, [(when, t, i) for t, i in zip(task_ids, ids, strict=True)])
    for execution, task_id in zip(executions, task_ids, strict=True):
        execution.enqueued_at, execution.task_id = now, task_id


def unmark_sent(executions: list[Execution]) -> None:
    """Record as not sent executions recorded as sent whose tasks the broker then refused: the
    outbox sends them after ``ENQUEUE_GRACE`` (and ``unsent`` counts them) like any unsent fire."""
    ids = [execution.pk for execution in executions]
    Execution.objects.filter(pk__in=ids, status=Execution.Status.QUEUED).update(enqueued_at=None, task_id="")
    for execution in executions:
        execution.enqueued_at, execution.task_id = None, ""


# -- the worker's queries ----------------------------------------------------------------------------


def claim_executions(execution_ids: Iterable[Any], *, now: datetime, worker: str = "") -> list[Execution]:
    """Move the queued ones of these executions to running and return them: one ``UPDATE ...
    RETURNING`` where the database returns rows from an UPDATE (``update_returns_rows``), else one
    conditional UPDATE each and a read.

    ``started_at`` is the claim (``now``) until the outcome replaces it with the moment the handler
    really started. ``worker`` names the worker process (``WorkerNode``) whose heartbeat vouches for
    the executions while they run. A claimed row is evidently sent: its ``enqueued_at`` is set to
    ``now`` unless the scheduler has marked it (it marks at its next pass, and skips rows a worker is
    claiming rather than wait for them).
    """
    keys = [Execution._meta.pk.to_python(value) for value in execution_ids]
    if update_returns_rows():
        return _claim_returning(keys, now, worker)
    claimed = [key for key in keys if _claim_one(key, now, worker)]
    return list(Execution.objects.filter(pk__in=claimed))


def update_returns_rows() -> bool:
    """Whether this database returns rows from an ``UPDATE`` (``UPDATE ... RETURNING``).

    Decided by vendor and version, not by Django's ``can_return_columns_from_insert``, which answers
    for INSERT: PostgreSQL always; SQLite from 3.35; MySQL never; MariaDB only for INSERT and DELETE.
    """
    if connection.vendor == "postgresql":
        return True
    if connection.vendor == "sqlite":
        return connection.Database.sqlite_version_info >= SQLITE_UPDATE_RETURNING
    return False


def _claim_returning(keys: list[Any], now: datetime, worker: str) -> list[Execution]:
    """The claim as one ``UPDATE ... RETURNING``; rows are locked in id order where the database locks
    rows (two claims, or a claim and another writer, locking shared rows in different orders would
    deadlock)."""
    pk = Execution._meta.pk
    table, column = connection.ops.quote_name(Execution._meta.db_table), connection.ops.quote_name(pk.column)
    prepare = Execution._meta.get_field("started_at").get_db_prep_value
    claimed_at = prepare(now, connection)
    ids = [pk.get_db_prep_value(key, connection) for key in keys]
    where = f"{column} IN ({', '.join(['%s'] * len(ids))}) AND status = %s"
    if connection.features.has_select_for_update:
        where = f"{column} IN (SELECT {column} FROM {table} WHERE {where} ORDER BY {column} FOR UPDATE)"
    sql = (
        f"UPDATE {table} SET status = %s, started_at = %s, worker = %s, "
        f"enqueued_at = COALESCE(enqueued_at, %s) WHERE {where} RETURNING *"
    )
    params = [Execution.Status.RUNNING, claimed_at, worker, claimed_at, *ids, Execution.Status.QUEUED]
    return list(Execution.objects.raw(sql, params))


def _claim_one(key: Any, now: datetime, worker: str) -> bool:
    queued = Execution.objects.filter(pk=key, status=Execution.Status.QUEUED)
    enqueued = Coalesce("enqueued_at", Value(now, output_field=DateTimeField()))
    running = Execution.Status.RUNNING
    return bool(queued.update(status=running, started_at=now, worker=worker, enqueued_at=enqueued))


def record_outcomes(finished: list[tuple[Execution, dict[str, Any]]]) -> None:
    """Write finished executions' outcomes (fields of ``OUTCOME_FIELDS``) to the rows still running,
    or lost: one UPDATE for one, one ``bulk_update`` for many. Idempotent, so a write the database
    dropped can be made again.

    A ``lost`` row takes the outcome: a scheduler judged it lost (its worker's heartbeat went silent
    during a database outage, or it outran ``EXECUTION_TIMEOUT``), but the handler did finish, and
    its outcome is the truth. A row cancelled meanwhile keeps what it has."""
    if not finished:
        return
    # An outcome replaces whatever a sweep wrote (a "Lost: ..." error) with the whole truth.
    finished = [(execution, {**OUTCOME_DEFAULTS, **outcome}) for execution, outcome in finished]
    failed = [e.pk for e, outcome in finished if outcome["status"] == Execution.Status.FAILED]
    # A failure's next attempt is recorded in the outcome's transaction: it survives any restart.
    with transaction.atomic() if failed else nullcontext():
        _write_outcomes(finished)
        if failed:
            record_retries(Execution.objects.filter(pk__in=failed, status=Execution.Status.FAILED))


def _write_outcomes(finished: list[tuple[Execution, dict[str, Any]]]) -> None:
    running = Execution.objects.filter(status__in=(Execution.Status.RUNNING, Execution.Status.LOST))
    if len(finished) == 1:
        execution, outcome = finished[0]
        running.filter(pk=execution.pk).update(**outcome)
        return
    for execution, outcome in finished:
        for name, value in outcome.items():
            setattr(execution, name, value)
    if connection.vendor == "postgresql":
        _write_outcomes_unnest([execution for execution, _ in finished])
        return
    running.bulk_update([execution for execution, _ in finished], OUTCOME_FIELDS)


def _write_outcomes_unnest(executions: list[Execution]) -> None:
    """The outcomes of many executions as one ``UPDATE ... FROM unnest(...)`` of array literals
    (PostgreSQL), to the rows still running or lost.

    Django's CASE-based ``bulk_update`` builds an expression per row and field: for a task of 25 it
    cost a worker more CPU than running its 25 trivial handlers, and with four workers on two cores
    it was 0.3-0.6 s between one task's handlers and the next's, what limited the midnight herd
    (BENCHMARKS.md, *The midnight herd*).
    """
    fields = [Execution._meta.pk, *(Execution._meta.get_field(name) for name in OUTCOME_FIELDS)]
    table = connection.ops.quote_name(Execution._meta.db_table)
    columns = [connection.ops.quote_name(f.column) for f in fields]
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    params = [pg_array(_texts(f, [getattr(e, f.attname) for e in executions])) for f in fields]
    assignments = ", ".join(f"{column} = v.{column}" for column in columns[1:])
    statuses = [Execution.Status.RUNNING, Execution.Status.LOST]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS e SET {assignments} FROM unnest({arrays}) AS v({', '.join(columns)}) "
            f"WHERE e.{columns[0]} = v.{columns[0]} AND e.status IN (%s, %s)",
            [*params, *statuses],
        )


# -- retries (docs/scheduling.rst, "Retries") -------------------------------------------------------


def record_retries(finished: QuerySet) -> int:
    """Record the next attempt of each of these finished executions that its job's retry policy asks
    for, due ``retries.delay`` after it ended; how many were recorded. Called in the transaction
    that records the outcome.

    The jobs' rows are locked first (only those that retry), so a concurrent delete either comes
    first (no job, no retry) or cancels the attempt recorded here with the job's other queued
    executions. The constraint ``sched_execution_once_per_attempt`` makes a second record of the
    same attempt (an outcome written twice, a sweep and a late outcome both asking) a no-op.
    """
    executions = list(finished)
    if not executions:
        return 0
    retrying = Job.objects.filter(pk__in={e.job_id for e in executions}, retry_max_attempts__gt=1)
    jobs = {job.pk: job for job in _lock_all(retrying.order_by("pk").only("pk", *Job.RETRY_FIELDS))}
    attempts = []
    for execution in executions:
        job = jobs.get(execution.job_id)
        policy = retries.RetryPolicy.of(job) if job is not None else None
        attempt = policy and retries.next_attempt(execution, policy, execution.finished_at)
        if attempt:
            attempts.append(attempt)
    return len(record_once(attempts))


def _lock_all(queryset: QuerySet) -> QuerySet:
    """Lock the selected rows, waiting for them, where the database locks rows."""
    if connection.features.has_select_for_update:
        return queryset.select_for_update()
    return queryset


def waiting_retries() -> QuerySet:
    """Attempts recorded by ``record_retries`` and never sent, of planned jobs (a paused job holds
    its retries). Found through ``sched_exec_status_idx``: queued rows are few.

    Two queries, not a join with the jobs: every pass asks, twice, and with the statistics of a
    table growing by a thousand rows a second (before autovacuum's next ``ANALYZE``) PostgreSQL
    planned the join as a walk over every planned job, each probing the queued rows: half a second
    a question at 1,000 jobs, which made whole seconds of fires late (BENCHMARKS.md, *Fire lag at
    1,000 jobs a second*). The jobs of unsent retries are few, and usually none.
    """
    unsent = Execution.objects.filter(
        status=Execution.Status.QUEUED, trigger=Execution.Trigger.RETRY, enqueued_at__isnull=True
    )
    jobs = set(unsent.order_by().values_list("job_id", flat=True).distinct())
    if not jobs:
        return Execution.objects.none()
    planned = Job.objects.filter(pk__in=jobs, state=Job.State.PLANNED).values_list("pk", flat=True)
    return unsent.filter(job_id__in=list(planned))


def next_retry_time() -> datetime | None:
    """When the earliest waiting retry is due; None when none waits."""
    return (
        waiting_retries()
        .order_by("scheduled_fire_time")
        .values_list("scheduled_fire_time", flat=True)
        .first()
    )


def send_due_retries(
    now: datetime, *, limit: int, send: Callable[[list[Execution]], int], threshold: timedelta
) -> Outbox:
    """Send the retries due by ``now``, as the outbox sends: locked while they are sent (so two
    schedulers rarely both send one, and a second send runs nothing twice), judged first by the
    job's misfire rule from the instant each was due. An attempt whose chain has succeeded
    meanwhile (the outcome of an attempt marked lost came after all) is cancelled, not sent.

    A pass with nothing due costs one read and no transaction (which on SQLite would take the
    write lock at every pass of every scheduler)."""
    due = waiting_retries().filter(scheduled_fire_time__lte=now).order_by("scheduled_fire_time")
    if not due.exists():
        return Outbox()
    with transaction.atomic():
        executions = list(_lock(due, of=("self",))[:limit])
        if not executions:
            return Outbox()
        live = _cancel_succeeded_chains(executions, now)
        to_send = judge_misfires(live, now, threshold=threshold)
        sent = send(to_send) if to_send else 0
    return Outbox(sent, len(live) - len(to_send))


def _cancel_succeeded_chains(executions: list[Execution], now: datetime) -> list[Execution]:
    chains = {e.first_execution_id for e in executions}
    done = Q(pk__in=chains) | Q(first_execution_id__in=chains)
    rows = Execution.objects.filter(done, status=Execution.Status.SUCCEEDED).values_list(
        "pk", "first_execution_id"
    )
    succeeded = {first or pk for pk, first in rows}
    if not succeeded:
        return executions
    moot = [e.pk for e in executions if e.first_execution_id in succeeded]
    Execution.objects.filter(pk__in=moot, status=Execution.Status.QUEUED).update(
        status=Execution.Status.CANCELLED,
        finished_at=now,
        error="Cancelled: an earlier attempt of this fire succeeded after all.",
    )
    return [e for e in executions if e.first_execution_id not in succeeded]
