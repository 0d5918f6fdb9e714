"""Every question and operation of the REST API, the admin and the CLI, answered once.

The front ends parse their input, call one function here and format what it returns; none of them
queries or writes the database itself. Every bulk operation is all or nothing: an unknown id refuses
the whole request before anything changes (docs/api.rst, "Pause, resume, trigger").
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from django_scheduler_api import planning, signals, validation
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.cron import describe
from django_scheduler_api.engine import store, wakeup
from django_scheduler_api.engine.dispatch import enqueue_on_commit
from django_scheduler_api.models import (
    NOT_ID_CHARACTER,
    Calendar,
    Execution,
    Job,
    SchedulerNode,
    is_job_id,
    is_stored_key,
)

_ID_SEPARATORS = re.compile(r"[,;]")

# Fields whose change moves a job's next fire time (docs/api.rst, "Jobs"); TIMING_FIELDS re-arm a
# one-shot job.
TIMING_FIELDS = Job.TIMING_FIELDS
SCHEDULE_FIELDS = (*TIMING_FIELDS, "state")


class UnknownJobs(LookupError):
    """Some requested ids name no job; ``ids`` lists them in request order."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        super().__init__("Unknown job ids: " + ", ".join(ids))


class NoSuchJob(LookupError):
    """The one job a request names does not exist (a 404 in the API, an error in the CLI)."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"No job with id {job_id!r}.")


class NoSuchExecution(LookupError):
    """The execution a request names does not exist (or its id is not a UUID)."""

    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        super().__init__(f"No execution with id {execution_id!r}.")


# What is trimmed around an id in a list: spaces and tabs only. A newline or another separator
# stays, so that ``ghost\n`` names no job instead of acting on ``ghost`` (ids match whole, issue 21).
_ID_PADDING = " \t"


def parse_ids(raw: str | Iterable[str] | None) -> list[str]:
    """Split ``a, b;c`` into ids: spaces trimmed, empty parts dropped, duplicates ignored, order kept."""
    if raw is None:
        return []
    parts = _ID_SEPARATORS.split(raw) if isinstance(raw, str) else list(raw)
    return list(dict.fromkeys(p.strip(_ID_PADDING) for p in parts if p and p.strip(_ID_PADDING)))


def select_jobs(ids: list[str], *, default: Any = None, lock: bool = True) -> list[Job]:
    """The jobs named by ``ids`` (all of ``default``, or all jobs, when ``ids`` is empty).

    Raises UnknownJobs if any id is unknown. With ``lock`` the rows are locked for the caller's
    transaction, so a concurrent scheduler sees the change whole.
    """
    queryset = Job.objects.all() if default is None else default
    if lock:
        queryset = queryset.select_for_update()
    if not ids:
        return list(queryset.order_by("id"))
    found = {job.id: job for job in queryset.filter(id__in=[i for i in ids if is_job_id(i)])}
    missing = [i for i in ids if i not in found]
    if missing:
        raise UnknownJobs(missing)
    return [found[i] for i in ids]


def schedule_of(job: Any, rules: dict[str, planning.CalendarRules] | None = None) -> planning.Schedule:
    """The schedule of a job (or anything with its fields), with the rules of its calendars (read
    from the database unless given)."""
    if rules is None:
        rules = store.calendar_rules(getattr(job, "calendars", None) or ())
    return planning.Schedule.of(job, rules)


def reschedule(
    job: Job, now: datetime | None = None, rules: dict[str, planning.CalendarRules] | None = None
) -> Job:
    """Recompute ``next_fire_time`` from now (after a change of cron, zone, window, calendars or
    state)."""
    now = now or timezone.now()
    job.next_fire_time = planning.next_fire_time(
        schedule_of(job, rules), now, previous_fire_time=job.previous_fire_time
    )
    return job


@transaction.atomic
def pause_jobs(ids: list[str]) -> list[str]:
    """Pause jobs; their ``next_fire_time`` is kept so that resuming can see what was missed.

    A fire already handed to the workers ahead of its instant is taken back unless a worker has
    claimed it (``store.take_back_early_fires``): it is missed, as a fire that came while paused.
    """
    jobs = select_jobs(ids)
    now = timezone.now()
    Job.objects.filter(pk__in=[j.pk for j in jobs]).update(state=Job.State.PAUSED, updated_at=now)
    store.take_back_early_fires(jobs, now)
    for job in jobs:
        if job.state != Job.State.PAUSED:
            job.state = Job.State.PAUSED
            _announce_state(job)
    return [j.id for j in jobs]


@transaction.atomic
def resume_jobs(ids: list[str]) -> list[str]:
    """Resume jobs. Fires missed while paused stay due: the scheduler treats them as misfires."""
    jobs = select_jobs(ids)
    now = timezone.now()
    for job in jobs:
        if job.state == Job.State.PAUSED:
            job.state = Job.State.PLANNED
            if job.next_fire_time is None:
                reschedule(job, now)
            job.save(update_fields=["state", "next_fire_time", "updated_at"])
            _announce_state(job)
    wakeup.notify_jobs_changed()
    return [j.id for j in jobs]


@transaction.atomic
def trigger_jobs(ids: list[str], data: dict[str, Any] | None = None) -> list[Execution]:
    """Fire jobs now, outside their schedule: one ``manual`` execution each, enqueued on commit.

    An execution the broker did not take stays in the outbox, for a scheduler to send later: the
    call still succeeds, and such an execution has no ``enqueued_at`` (``dispatch.enqueue``).

    Explicit ids fire paused jobs too; no ids fires every planned job. The execution's data is the
    job's data shallow-merged with ``data`` (its keys win).

    The jobs' rows stay locked until the executions are committed, so a concurrent DELETE waits for
    them and then cancels them with the job's other queued executions, and a trigger that comes
    after the delete finds no job (404): no execution is ever created for a deleted job.
    """
    default = None if ids else Job.objects.filter(state=Job.State.PLANNED)
    jobs = select_jobs(ids, default=default)
    now = timezone.now()
    executions = Execution.objects.bulk_create(
        [
            Execution(
                **job.run_fields(data),
                trigger=Execution.Trigger.MANUAL,
                scheduled_fire_time=now,
                fire_time=now,
                previous_fire_time=job.previous_fire_time,
                next_fire_time=job.next_fire_time,
            )
            for job in jobs
        ]
    )
    enqueue_on_commit(executions)
    return executions


@transaction.atomic
def delete_job(job_id: str) -> None:
    """Delete a job and cancel its executions still waiting in the queue; history stays.

    A row whose id breaks the id rule (stored before the rule matched whole strings) can be deleted
    too (``is_stored_key``): the remedy ``check`` points to."""
    deleted = Job.objects.filter(pk=job_id).delete()[0] if is_stored_key(job_id) else 0
    if not deleted:
        raise UnknownJobs([job_id])
    waiting = (Execution.Status.QUEUED, Execution.Status.WAITING)
    Execution.objects.filter(job_id=job_id, status__in=waiting).update(
        status=Execution.Status.CANCELLED, finished_at=timezone.now()
    )


def save_job(
    job_id: str,
    fields: dict[str, Any],
    *,
    partial: bool = False,
    source: str = Job.Source.API,
) -> tuple[Job, bool]:
    """Create or replace (``partial``: update) a job from validated fields; returns (job, created).

    ``next_fire_time`` moves only when a schedule field changes, so editing a description never
    shifts a fire. Changing the timing of a one-shot job re-arms it even if it has fired. A partial
    update of a job that does not exist raises UnknownJobs. Two concurrent creations of one id are
    serialised by the primary key: the loser retries as an update.
    """
    try:
        return _save_job(job_id, fields, partial=partial, source=source)
    except IntegrityError:
        return _save_job(job_id, fields, partial=partial, source=source)


@transaction.atomic
def _save_job(job_id: str, fields: dict[str, Any], *, partial: bool, source: str) -> tuple[Job, bool]:
    job = Job.objects.select_for_update().filter(pk=job_id).first()
    if fields.get("calendars"):
        validation.lock_calendars(fields["calendars"])
    created = job is None
    if created and partial:
        raise UnknownJobs([job_id])
    if job is None:
        job = Job(id=job_id, source=source)
    before = {name: getattr(job, name) for name in SCHEDULE_FIELDS}
    values = dict(fields) if partial else {**validation.job_defaults(job_id), **fields}
    group, name = Job.split_id(job_id)
    values["group"] = values.get("group", job.group) or group
    values["name"] = values.get("name", job.name) or name
    for key, value in values.items():
        setattr(job, key, value)
    changed = {name for name in SCHEDULE_FIELDS if created or getattr(job, name) != before[name]}
    if changed:
        _plan(job, rearm=created or bool(changed & set(TIMING_FIELDS)))
    job.save(force_insert=created)
    if changed:
        wakeup.notify_jobs_changed()
    if "state" in changed and not created:
        _announce_state(job)
    return job, created


def _announce_state(job: Job) -> None:
    """Send ``job_paused`` or ``job_resumed`` for a job whose state changed, once it is committed."""
    signal = signals.job_paused if job.state == Job.State.PAUSED else signals.job_resumed
    transaction.on_commit(lambda: signals.send(signal, Job, job=job))


def _plan(job: Job, *, rearm: bool) -> None:
    """Recompute the next fire from now; a re-armed one-shot ignores that it has fired before."""
    if rearm and job.is_one_shot:
        job.next_fire_time = planning.next_fire_time(schedule_of(job), timezone.now())
    else:
        reschedule(job)


# -- questions: what the front ends show ---------------------------------------------------------


def get_job(job_id: str) -> Job:
    """The job ``job_id``; NoSuchJob if there is none (a text no database can compare, ``%00``, is
    not looked up; a stored id that breaks the id rule is, so that it can be shown and deleted)."""
    job = Job.objects.filter(pk=job_id).first() if is_stored_key(job_id) else None
    if job is None:
        raise NoSuchJob(job_id)
    return job


def get_execution(execution_id: str) -> Execution:
    """The execution ``execution_id`` (a UUID in any of its spellings); NoSuchExecution if none."""
    try:
        pk = uuid.UUID(str(execution_id))
    except ValueError:
        raise NoSuchExecution(execution_id) from None
    execution = Execution.objects.filter(pk=pk).first()
    if execution is None:
        raise NoSuchExecution(execution_id)
    return execution


def filter_jobs(
    jobs: QuerySet[Job] | None = None,
    *,
    state: str | None = None,
    group: str | None = None,
    handler: str | None = None,
) -> QuerySet[Job]:
    """Jobs (all, or ``jobs``) ordered by id, narrowed by whichever of the list filters are given."""
    lookups = {"state": state, "group": group, "handler": handler}
    jobs = Job.objects.all() if jobs is None else jobs
    return jobs.filter(**{k: v for k, v in lookups.items() if v is not None}).order_by("id")


def page(items: QuerySet, skip: int, take: int) -> list[Any]:
    """``items[skip:skip + take]``, with deep pages found by their keys first.

    With ``skip`` the database still walks every skipped row; selecting only the primary keys lets it
    do so in an index (an index-only scan on PostgreSQL: half a million jobs in, a few thousand
    index pages instead of every skipped job's row), and only the page's rows are then read. The
    first page is one query; a deeper one, two.
    """
    if not skip:
        return list(items[:take])
    keys = list(items.values_list("pk", flat=True)[skip : skip + take])
    return list(items.filter(pk__in=keys))


def job_values(field: str, limit: int) -> list[str]:
    """The distinct values of the job column ``field`` (an indexed one), sorted, at most ``limit``.

    One look-up per value, each the next value after the last in the column's index (a loose index
    scan), rather than ``SELECT DISTINCT``, which reads an entry for every job.
    """
    column = Job.objects.order_by(field).values_list(field, flat=True)
    values: list[str] = []
    value = column.first()
    while value is not None and len(values) < limit:
        values.append(value)
        value = column.filter(**{f"{field}__gt": value}).first()
    return values


def filter_executions(
    executions: QuerySet[Execution] | None = None,
    *,
    job: str | None = None,
    status: str | None = None,
    trigger: str | None = None,
) -> QuerySet[Execution]:
    """Executions (all, or ``executions``) newest first, narrowed by job id, status and trigger when
    given."""
    lookups = {"job_id": job, "status": status, "trigger": trigger}
    executions = Execution.objects.all() if executions is None else executions
    return executions.filter(**{k: v for k, v in lookups.items() if v is not None})


def job_executions(job_id: str) -> QuerySet[Execution]:
    """The executions of one job, newest first, also once the job is deleted (its history stays).

    NoSuchJob when there is neither such a job nor any execution of it.
    """
    if not is_stored_key(job_id):
        raise NoSuchJob(job_id)
    found = Execution.objects.filter(job_id=job_id)
    if not found.exists() and not Job.objects.filter(pk=job_id).exists():
        raise NoSuchJob(job_id)
    return found


def ids_breaking_the_rule(limit: int = 20) -> dict[str, list[str]]:
    """Stored job ids, groups and calendar ids that the id rule refuses (``models.JOB_ID_PATTERN``),
    at most ``limit`` of each: rows written before the rule matched whole strings (``ghost\n``,
    issue 21), or by SQL. They are listed, shown and deletable, but no URL of the API names them.

    The regex is a character no identifier has, which every database reads alike (``$`` before a
    final newline does not)."""

    def breaking(model: type[Job] | type[Calendar], field: str) -> list[str]:
        rule = Q(**{f"{field}__regex": NOT_ID_CHARACTER}) | Q(**{f"{field}__regex": r"^[.]+$"})
        rows = model.objects.filter(rule | Q(**{field: ""})).values_list(field, flat=True)
        return list(rows.order_by(field).distinct()[:limit])

    return {
        "job ids": breaking(Job, "id"),
        "groups": breaking(Job, "group"),
        "calendar ids": breaking(Calendar, "id"),
    }


# The order in which a job's executions count as "latest": by the fire, then by creation (a manual
# trigger and a fire of the same second).
LATEST_FIRST = ("-scheduled_fire_time", "-created_at")


def recent_executions(job_id: str, limit: int) -> list[Execution]:
    """The job's ``limit`` latest executions, without their bulky columns (data, result, traceback)."""
    latest = Execution.objects.filter(job_id=job_id).defer("data", "result", "traceback")
    return list(latest.order_by(*LATEST_FIRST)[:limit])


def upcoming_fire_times(job: Any, count: int = 5, now: datetime | None = None) -> list[datetime]:
    """The next ``count`` fires of a job (anything with the Job's schedule fields), computed the way
    the scheduler computes them, so every view of a schedule agrees with what will happen."""
    return list(islice(_fires(job, now or timezone.now()), count))


def _fires(job: Any, after: datetime) -> Iterator[datetime]:
    return planning.fires_after(schedule_of(job), after, job.previous_fire_time)


@dataclass(frozen=True)
class Status:
    """Is a scheduler running, how many jobs are in each state, and when is the next fire."""

    nodes: list[SchedulerNode]
    counts: dict[str, int]  # every state of Job.State, zero included
    next_fire_time: datetime | None

    @property
    def is_started(self) -> bool:
        return bool(self.nodes)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def status(now: datetime | None = None) -> Status:
    """The scheduler's status: live nodes, job counts by state, the earliest next fire.

    One count per state, each narrowed to its state so that it is read from the due-jobs index
    (``state``, ``next_fire_time``) alone: a ``GROUP BY state`` over all jobs made PostgreSQL read
    the whole table.
    """
    planned = Job.objects.filter(state=Job.State.PLANNED)
    return Status(
        nodes=live_nodes(now),
        counts={state: Job.objects.filter(state=state).count() for state in Job.State.values},
        next_fire_time=planned.aggregate(at=Min("next_fire_time"))["at"],
    )


@dataclass(frozen=True)
class Preview:
    """The next fire times of a cron expression read in a zone, or of an interval, less the times
    that ``calendars`` exclude."""

    cron_expression: str
    description: str
    timezone: str
    fire_times: list[datetime]
    interval: int | None = None
    interval_anchor: datetime | None = None
    repeat_count: int | None = None
    calendars: list[str] = field(default_factory=list)
    jitter: int = 0
    job: str = ""


def preview(
    cron_expression: str = "",
    zone: str | None = None,
    after: datetime | None = None,
    count: int = 10,
    *,
    interval: int | None = None,
    interval_anchor: datetime | None = None,
    repeat_count: int | None = None,
    calendars: list[str] | None = None,
    jitter: int = 0,
    job: str = "",
) -> Preview:
    """The next ``count`` fires of a valid expression in ``zone`` (default: the configured zone), or
    of an interval from its anchor, strictly after ``after`` (default now), without the times the
    ``calendars`` exclude, delayed by the ``jitter`` of the job whose id is ``job`` (the delays
    derive from it), as the scheduler computes them. ``ExcludedEverything`` when the calendars
    exclude every fire the search looked at."""
    zone = zone or scheduler_settings.DEFAULT_TIMEZONE
    after = after or timezone.now()
    names = list(calendars or ())
    schedule = planning.Schedule(
        cron_expression="" if interval else cron_expression,
        timezone=zone,
        interval=interval,
        interval_anchor=interval_anchor if interval else None,
        repeat_count=repeat_count if interval else None,
        calendars=tuple(store.calendar_rules(names)[name] for name in names),
        jitter=jitter,
        jitter_key=job if jitter else "",
    )
    fires = list(islice(planning.fires_after(schedule, after), count))
    jittered = {"jitter": jitter, "job": job if jitter else ""}
    if interval:
        description = planning.describe_interval(interval)
        return Preview(
            "", description, zone, fires, interval, interval_anchor, repeat_count, names, **jittered
        )
    return Preview(cron_expression, describe(cron_expression), zone, fires, calendars=names, **jittered)


def live_nodes(now: datetime | None = None) -> list[SchedulerNode]:
    """Scheduler processes whose heartbeat is younger than ``NODE_TIMEOUT`` seconds."""
    return list(_live_nodes(now).order_by("name"))


def count_live_nodes(now: datetime | None = None) -> int:
    """How many scheduler processes are alive (see ``live_nodes``)."""
    return _live_nodes(now).count()


def _live_nodes(now: datetime | None) -> QuerySet[SchedulerNode]:
    since = (now or timezone.now()) - timedelta(seconds=scheduler_settings.NODE_TIMEOUT)
    return SchedulerNode.objects.filter(last_seen__gte=since)
