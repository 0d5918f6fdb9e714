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
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, DateTimeField, F, QuerySet, Value
from django.db.models.functions import Coalesce

from django_scheduler_api import planning
from django_scheduler_api.models import Execution, Job, PrunedExecutions

# The job columns a claim needs; loading only these keeps the hot query narrow.
CLAIM_FIELDS = (
    "id",
    "handler",
    "cron_expression",
    "timezone",
    "start_time",
    "end_time",
    "misfire_policy",
    "overlap_policy",
    "data",
    "next_fire_time",
    "previous_fire_time",
)
PENDING = (Execution.Status.QUEUED, Execution.Status.RUNNING)
# The columns an execution's outcome writes.
OUTCOME_FIELDS = ("status", "finished_at", "duration_ms", "result", "error", "traceback", "log")
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


def _lock(queryset: QuerySet) -> QuerySet:
    """Lock the selected rows, skipping rows another scheduler holds, where the database can."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset


def next_due_time() -> datetime | None:
    """The earliest fire time of any planned job (an index-only look at ``sched_job_due_idx``)."""
    return (
        Job.objects.filter(state=Job.State.PLANNED, next_fire_time__isnull=False)
        .order_by("next_fire_time")
        .values_list("next_fire_time", flat=True)
        .first()
    )


def claim_due(now: datetime, *, node: str, limit: int, threshold: timedelta) -> Claim:
    """Claim up to ``limit`` due jobs, record their fires and move their fire times, in one transaction."""
    with transaction.atomic():
        due = Job.objects.filter(state=Job.State.PLANNED, next_fire_time__lte=now)
        jobs = list(_lock(due.order_by("next_fire_time").only(*CLAIM_FIELDS))[:limit])
        if not jobs:
            return Claim()
        busy = _busy_jobs([j.pk for j in jobs if j.overlap_policy == Job.OverlapPolicy.SKIP])
        executions = []
        for job in jobs:
            plan = _plan(job, now, threshold, busy=job.pk in busy)
            executions.extend(_executions(job, plan, now, node))
            job.next_fire_time, job.previous_fire_time = plan.next_fire_time, plan.previous_fire_time
        recorded = _insert(executions)
        _save_fire_times(jobs)
    to_send = [e for e in recorded if e.status == Execution.Status.QUEUED]
    return Claim(len(jobs), len(recorded), len(recorded) - len(to_send), to_send)


def _plan(job: Job, now: datetime, threshold: timedelta, *, busy: bool) -> planning.FirePlan:
    plan = planning.plan_due_job(
        planning.Schedule.of(job),
        job.next_fire_time,
        now,
        misfire_policy=job.misfire_policy,
        threshold=threshold,
        previous_fire_time=job.previous_fire_time,
    )
    skip_overlap = job.overlap_policy == Job.OverlapPolicy.SKIP
    fires = planning.apply_overlap(plan.fires, skip_overlap=skip_overlap, busy=busy)
    return planning.FirePlan(fires, plan.next_fire_time, plan.previous_fire_time)


def _busy_jobs(job_ids: list[str]) -> set[str]:
    """Jobs (of those with overlap policy ``skip``) that have an execution queued or running."""
    if not job_ids:
        return set()
    pending = Execution.objects.filter(job_id__in=job_ids, status__in=PENDING)
    return set(pending.values_list("job_id", flat=True).distinct())


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
    skipped = {"status": Execution.Status.SKIPPED, "finished_at": now} if fire.skipped else {}
    return Execution(
        job_id=job.pk,
        handler=job.handler,
        trigger=fire.trigger,
        scheduled_fire_time=fire.scheduled,
        fire_time=now,
        previous_fire_time=previous,
        next_fire_time=following,
        node=node,
        data=dict(job.data or {}),
        **skipped,
    )


def _insert(executions: list[Execution]) -> list[Execution]:
    """Insert, letting the unique constraint drop fires already recorded; return those inserted.

    The common case (no collision) is one plain bulk insert in a savepoint. Only when the constraint
    refuses it is the batch inserted again skipping collisions, and the survivors read back.
    """
    if not executions:
        return []
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


def _save_fire_times(jobs: list[Job]) -> None:
    groups: dict[tuple[datetime | None, datetime | None], list[str]] = defaultdict(list)
    for job in jobs:
        groups[(job.next_fire_time, job.previous_fire_time)].append(job.pk)
    if len(groups) > GROUPED_UPDATE_LIMIT:
        Job.objects.bulk_update(jobs, ["next_fire_time", "previous_fire_time"], batch_size=500)
        return
    for (next_fire, previous_fire), ids in groups.items():
        Job.objects.filter(pk__in=ids).update(next_fire_time=next_fire, previous_fire_time=previous_fire)


def send_outbox(
    now: datetime, *, grace: timedelta, limit: int, send: Callable[[list[Execution]], int]
) -> int:
    """Send executions recorded at least ``grace`` ago but never sent (their scheduler died first).

    The rows stay locked while they are sent, so two schedulers do not both send them; if they ever
    did, the task's queued -> running update still runs the handler once.
    """
    with transaction.atomic():
        unsent = Execution.objects.filter(
            status=Execution.Status.QUEUED, enqueued_at__isnull=True, created_at__lt=now - grace
        )
        executions = list(_lock(unsent.order_by("created_at"))[:limit])
        return send(executions) if executions else 0


def mark_lost(now: datetime, *, timeout: timedelta) -> int:
    """Executions whose worker died (running too long) or whose task django-q2 lost (never started)."""
    cutoff = now - timeout
    running = Execution.objects.filter(status=Execution.Status.RUNNING, started_at__lt=cutoff)
    never_started = Execution.objects.filter(status=Execution.Status.QUEUED, enqueued_at__lt=cutoff)
    return _lose(running, now, "its worker stopped answering within EXECUTION_TIMEOUT.") + _lose(
        never_started, now, "django-q2 never started it within EXECUTION_TIMEOUT."
    )


def mark_failed_tasks(now: datetime, *, since: datetime, tasks: Iterable[str]) -> int:
    """Executions whose django-q2 task failed outside their handlers (since ``since``) become lost.

    A handler's own failure is recorded by the task. The task itself fails only when what surrounds
    the handlers raises, the claim or the write of the outcomes (a database error), or its payload
    cannot be read. django-q2 keeps such a failure, with the execution ids in its arguments; the
    executions it left queued or running would otherwise wait ``EXECUTION_TIMEOUT`` to be lost.
    ``tasks`` are the task's dotted paths (``worker.TASK`` and its former paths).
    """
    from django_q.models import Failure

    lost = 0
    for failure in Failure.objects.filter(func__in=list(tasks), stopped__gte=since).only("args", "result"):
        ids = _execution_ids(failure.args)
        if ids:
            carried = Execution.objects.filter(pk__in=ids, status__in=PENDING)
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
    return executions.update(status=Execution.Status.LOST, finished_at=now, error=f"Lost: {why}")


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
    ids = [pk.get_db_prep_value(execution.pk, connection) for execution in executions]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH free AS (SELECT id FROM {table} WHERE id = ANY(%s::uuid[]) FOR UPDATE SKIP LOCKED) "
                f"UPDATE {table} AS e SET enqueued_at = %s, task_id = v.task_id "
                "FROM unnest(%s::uuid[], %s::varchar[]) AS v(id, task_id), free "
                "WHERE e.id = v.id AND e.id = free.id",
                [ids, when, ids, task_ids],
            )
        else:
            sql = f"UPDATE {table} SET enqueued_at = %s, task_id = %s WHERE id = %s"
            cursor.executemany(sql, [(when, t, i) for t, i in zip(task_ids, ids, strict=True)])
    for execution, task_id in zip(executions, task_ids, strict=True):
        execution.enqueued_at, execution.task_id = now, task_id


# -- the worker's queries ----------------------------------------------------------------------------


def claim_executions(execution_ids: Iterable[Any], *, started: datetime, now: datetime) -> list[Execution]:
    """Move the queued ones of these executions to running and return them: one ``UPDATE ...
    RETURNING`` where the database returns rows from an UPDATE (``update_returns_rows``), else one
    conditional UPDATE each and a read.

    ``started`` is when the handlers will start (``started_at``), ``now`` the claim. A claimed row is
    evidently sent: its ``enqueued_at`` is set to ``now`` unless the scheduler has marked it (it
    marks at its next pass, and skips rows a worker is claiming rather than wait for them).
    """
    keys = [Execution._meta.pk.to_python(value) for value in execution_ids]
    if update_returns_rows():
        return _claim_returning(keys, started, now)
    claimed = [key for key in keys if _claim_one(key, started, now)]
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


def _claim_returning(keys: list[Any], started: datetime, now: datetime) -> list[Execution]:
    """The claim as one ``UPDATE ... RETURNING``; rows are locked in id order where the database locks
    rows (two claims, or a claim and another writer, locking shared rows in different orders would
    deadlock)."""
    pk = Execution._meta.pk
    table, column = connection.ops.quote_name(Execution._meta.db_table), connection.ops.quote_name(pk.column)
    prepare = Execution._meta.get_field("started_at").get_db_prep_value
    start, claimed_at = prepare(started, connection), prepare(now, connection)
    ids = [pk.get_db_prep_value(key, connection) for key in keys]
    where = f"{column} IN ({', '.join(['%s'] * len(ids))}) AND status = %s"
    if connection.features.has_select_for_update:
        where = f"{column} IN (SELECT {column} FROM {table} WHERE {where} ORDER BY {column} FOR UPDATE)"
    sql = (
        f"UPDATE {table} SET status = %s, started_at = %s, enqueued_at = COALESCE(enqueued_at, %s) "
        f"WHERE {where} RETURNING *"
    )
    params = [Execution.Status.RUNNING, start, claimed_at, *ids, Execution.Status.QUEUED]
    return list(Execution.objects.raw(sql, params))


def _claim_one(key: Any, started: datetime, now: datetime) -> bool:
    queued = Execution.objects.filter(pk=key, status=Execution.Status.QUEUED)
    enqueued = Coalesce("enqueued_at", Value(now, output_field=DateTimeField()))
    return bool(queued.update(status=Execution.Status.RUNNING, started_at=started, enqueued_at=enqueued))


def record_outcomes(finished: list[tuple[Execution, dict[str, Any]]]) -> None:
    """Write finished executions' outcomes (fields of ``OUTCOME_FIELDS``) to the rows still running:
    one UPDATE for one, one ``bulk_update`` for many. A row something else finished meanwhile (lost,
    cancelled) keeps what it has."""
    if not finished:
        return
    running = Execution.objects.filter(status=Execution.Status.RUNNING)
    if len(finished) == 1:
        execution, outcome = finished[0]
        running.filter(pk=execution.pk).update(**outcome)
        return
    for execution, outcome in finished:
        for name, value in outcome.items():
            setattr(execution, name, value)
    running.bulk_update([execution for execution, _ in finished], OUTCOME_FIELDS)
