"""Operations on jobs shared by the REST API, the admin and the CLI (one code path for each).

Every bulk operation is all or nothing: an unknown id refuses the whole request before anything
changes (SPEC §2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from django_scheduler_api import planning
from django_scheduler_api.execution import enqueue_on_commit
from django_scheduler_api.models import Execution, Job

_ID_SEPARATORS = re.compile(r"[,;]")


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
    found = {job.id: job for job in queryset.filter(id__in=ids)}
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
    Job.objects.filter(pk__in=[j.pk for j in jobs]).update(
        state=Job.State.PAUSED, updated_at=timezone.now()
    )
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
    deleted, _ = Job.objects.filter(pk=job_id).delete()
    if not deleted:
        raise UnknownJobs([job_id])
    Execution.objects.filter(job_id=job_id, status=Execution.Status.QUEUED).update(
        status=Execution.Status.CANCELLED, finished_at=timezone.now()
    )
