"""Jobs declared in code rather than through the API (docs/engine.rst, "Jobs declared in code").

Two sources: ``SCHEDULER_API["JOBS"]`` (a list of dicts with job fields) and handlers registered with
a schedule, ``@handler("name", schedule="0 * * * * ?", ...)`` (the job's id and handler are the
handler's name). ``run_scheduler`` upserts them when it starts, with ``source = code``: the definition in
code wins, but a state set through the API (a job paused by an operator) is kept. A declaration that
fails validation is logged and left out; the others still load.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from django_scheduler_api import validation
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.models import Job
from django_scheduler_api.registry import registry
from django_scheduler_api.services import reschedule, schedule_of

logger = logging.getLogger(__name__)


class DeclaredJobSerializer(validation.JobFieldsSerializer):
    """A job's fields as the API validates them; a declaration names its id itself."""

    class Meta(validation.JobFieldsSerializer.Meta):
        extra_kwargs = {
            **validation.JobFieldsSerializer.Meta.extra_kwargs,
            "id": {**validation.JobFieldsSerializer.Meta.extra_kwargs["id"], "required": True},
        }


@dataclass
class SyncReport:
    """What loading the declared jobs did, by job id."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)


def declared_jobs() -> list[dict[str, Any]]:
    """Every declaration, settings first, then handlers with a schedule (the later wins on an id)."""
    jobs = [dict(job) for job in scheduler_settings.JOBS]
    for entry in registry:
        if entry.job:
            jobs.append({**entry.job, "id": entry.name, "handler": entry.name})
    return jobs


def clean(spec: Any) -> dict[str, Any]:
    """Validate one declaration exactly as the API validates a body (same rules, same messages);
    return every job field, defaults filled in.

    Like a POST to the API, a declaration is the whole definition: a field it omits takes its default.
    """
    if not isinstance(spec, dict):
        raise ValidationError(f"A declared job must be a dict, not {type(spec).__name__}.")
    serializer = DeclaredJobSerializer(data=spec)
    if not serializer.is_valid():
        raise ValidationError(validation.error_message(serializer.errors).splitlines())
    fields = serializer.validated_data
    return {**validation.job_defaults(fields["id"]), **fields}


def sync_declared_jobs(now: datetime | None = None) -> SyncReport:
    """Upsert every valid declared job; see the module docstring for what is kept."""
    now = now or timezone.now()
    report = SyncReport()
    for spec in declared_jobs():
        try:
            fields = clean(spec)
        except ValidationError as exc:
            job_id = spec.get("id", "?") if isinstance(spec, dict) else "?"
            report.invalid[str(job_id)] = "; ".join(exc.messages)
            logger.error("Declared job %s is invalid and was not loaded: %s", job_id, exc.messages)
            continue
        outcome = _upsert(fields, now)
        getattr(report, outcome).append(fields["id"])
    return report


def _upsert(fields: dict[str, Any], now: datetime) -> str:
    try:
        with transaction.atomic():
            job = Job.objects.select_for_update().filter(pk=fields["id"]).first()
            return _create(fields, now) if job is None else _update(job, fields, now)
    except IntegrityError:  # another scheduler created it meanwhile: update that row instead
        with transaction.atomic():
            return _update(Job.objects.select_for_update().get(pk=fields["id"]), fields, now)


def _create(fields: dict[str, Any], now: datetime) -> str:
    job = Job(**fields, source=Job.Source.CODE)
    reschedule(job, now)
    job.save(force_insert=True)
    return "created"


def _update(job: Job, fields: dict[str, Any], now: datetime) -> str:
    before = schedule_of(job)
    changed = [
        name for name, value in fields.items() if name not in ("id", "state") and getattr(job, name) != value
    ]
    if not changed and job.source == Job.Source.CODE:
        return "unchanged"
    for name in changed:
        setattr(job, name, fields[name])
    job.source = Job.Source.CODE
    if schedule_of(job) != before:
        reschedule(job, now)
    job.save()
    return "updated"
