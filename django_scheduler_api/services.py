"""Operations on jobs shared by the REST API, the admin and the CLI (one code path for each).

Every bulk operation is all or nothing: an unknown id refuses the whole request before anything
changes (SPEC §2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from django_scheduler_api import planning, wakeup
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.engine.dispatch import enqueue_on_commit
from django_scheduler_api.models import Execution, Job, SchedulerNode, is_job_id

_ID_SEPARATORS = re.compile(r"[,;]")

# Fields whose change moves a job's next fire time (SPEC §2); TIMING_FIELDS re-arm a one-shot job.
TIMING_FIELDS = ("cron_expression", "timezone", "start_time", "end_time")
SCHEDULE_FIELDS = (*TIMING_FIELDS, "state")


class UnknownJobs(LookupError):
    """Some requested ids name no job; ``ids`` lists them in request order."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        super().__init__("Unknown job ids: " + ", ".join(ids))


def parse_ids(raw: str | Iterable[str] | None) -> list[str]:
    """Split ``a, b;c`` into ids: trimmed, empty parts dropped, duplicates ignored, order kept."""
    if raw is None:
        return []
    parts = _ID_SEPARATORS.split(raw) if isinstance(raw, str) else list(raw)
    return list(dict.fromkeys(p.strip() for p in parts if p and p.strip()))


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


def reschedule(job: Job, now: datetime | None = None) -> Job:
    """Recompute ``next_fire_time`` from now (after a change of cron, zone, window or state)."""
    now = now or timezone.now()
    job.next_fire_time = planning.next_fire_time(
        planning.Schedule.of(job), now, previous_fire_time=job.previous_fire_time
    )
    return job


@transaction.atomic
def pause_jobs(ids: list[str]) -> list[str]:
    """Pause jobs; their ``next_fire_time`` is kept so that resuming can see what was missed."""
    jobs = select_jobs(ids)
    Job.objects.filter(pk__in=[j.pk for j in jobs]).update(state=Job.State.PAUSED, updated_at=timezone.now())
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
    wakeup.notify_jobs_changed()
    return [j.id for j in jobs]


@transaction.atomic
def trigger_jobs(ids: list[str], data: dict[str, Any] | None = None) -> list[Execution]:
    """Fire jobs now, outside their schedule: one ``manual`` execution each, enqueued on commit.

    Explicit ids fire paused jobs too; no ids fires every planned job. The execution's data is the
    job's data shallow-merged with ``data`` (its keys win).
    """
    default = None if ids else Job.objects.filter(state=Job.State.PLANNED)
    jobs = select_jobs(ids, default=default, lock=False)
    now = timezone.now()
    executions = Execution.objects.bulk_create(
        [
            Execution(
                job_id=job.id,
                handler=job.handler,
                trigger=Execution.Trigger.MANUAL,
                scheduled_fire_time=now,
                fire_time=now,
                previous_fire_time=job.previous_fire_time,
                next_fire_time=job.next_fire_time,
                data={**(job.data or {}), **(data or {})},
            )
            for job in jobs
        ]
    )
    enqueue_on_commit(executions)
    return executions


@transaction.atomic
def delete_job(job_id: str) -> None:
    """Delete a job and cancel its executions still waiting in the queue; history stays."""
    deleted = Job.objects.filter(pk=job_id).delete()[0] if is_job_id(job_id) else 0
    if not deleted:
        raise UnknownJobs([job_id])
    Execution.objects.filter(job_id=job_id, status=Execution.Status.QUEUED).update(
        status=Execution.Status.CANCELLED, finished_at=timezone.now()
    )


def job_defaults(job_id: str) -> dict[str, Any]:
    """The value of every writable field a replacing write (POST) leaves out (SPEC §2)."""
    group, name = Job.split_id(job_id)
    return {
        "group": group,
        "name": name,
        "state": Job.State.PLANNED,
        "description": "",
        "cron_expression": "",
        "timezone": scheduler_settings.DEFAULT_TIMEZONE,
        "start_time": None,
        "end_time": None,
        "misfire_policy": Job.MisfirePolicy.DO_NOTHING,
        "overlap_policy": Job.OverlapPolicy.ALLOW,
        "data": {},
    }


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
    created = job is None
    if created and partial:
        raise UnknownJobs([job_id])
    if job is None:
        job = Job(id=job_id, source=source)
    before = {name: getattr(job, name) for name in SCHEDULE_FIELDS}
    values = dict(fields) if partial else {**job_defaults(job_id), **fields}
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
    return job, created


def _plan(job: Job, *, rearm: bool) -> None:
    """Recompute the next fire from now; a re-armed one-shot ignores that it has fired before."""
    if rearm and job.is_one_shot:
        job.next_fire_time = planning.next_fire_time(planning.Schedule.of(job), timezone.now())
    else:
        reschedule(job)


def live_nodes(now: datetime | None = None) -> list[SchedulerNode]:
    """Scheduler processes whose heartbeat is younger than ``NODE_TIMEOUT`` seconds."""
    now = now or timezone.now()
    since = now - timedelta(seconds=scheduler_settings.NODE_TIMEOUT)
    return list(SchedulerNode.objects.filter(last_seen__gte=since).order_by("name"))
