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
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from django_scheduler_api import planning, validation
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.models import Job, job_id_validator
from django_scheduler_api.registry import registry
from django_scheduler_api.services import job_defaults, reschedule

logger = logging.getLogger(__name__)

FIELDS = (
    "id", "group", "name", "state", "description", "handler", "cron_expression", "timezone",
    "start_time", "end_time", "misfire_policy", "overlap_policy", "data",
)  # fmt: skip
CHOICES = {
    "state": Job.State.values,
    "misfire_policy": Job.MisfirePolicy.values,
    "overlap_policy": Job.OverlapPolicy.values,
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
    """Validate one declaration with the API's rules; return every job field, defaults filled in.

    Like a POST to the API, a declaration is the whole definition: a field it omits takes its default.
    """
    if not isinstance(spec, dict):
        raise ValidationError(f"A declared job must be a dict, not {type(spec).__name__}.")
    unknown = sorted(set(spec) - set(FIELDS))
    if unknown:
        raise ValidationError(f"Unknown job fields: {', '.join(unknown)}.")
    fields = dict(spec)
    job_id_validator(fields.get("id", ""))
    validation.validate_handler(fields.get("handler", ""))
    fields["cron_expression"] = validation.validate_cron_expression(fields.get("cron_expression", ""))
    fields["timezone"] = validation.validate_timezone(
        fields.get("timezone") or scheduler_settings.DEFAULT_TIMEZONE
    )
    for name in ("start_time", "end_time"):
        fields[name] = _instant(fields.get(name), name)
    validation.validate_window(fields["start_time"], fields["end_time"])
    fields["data"] = validation.validate_data(fields.get("data", {}))
    for name, allowed in CHOICES.items():
        if name in fields and fields[name] not in allowed:
            raise ValidationError(f"{name} must be one of {', '.join(allowed)}, not {fields[name]!r}.")
    return {**job_defaults(fields["id"]), **fields}


def _instant(value: Any, name: str) -> datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string; naive means UTC."""
    if value is None or value == "":
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(parsed, datetime):
        raise ValidationError(f"{name} must be an ISO 8601 date and time, not {value!r}.")
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


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
    before = planning.Schedule.of(job)
    changed = [
        name for name, value in fields.items() if name not in ("id", "state") and getattr(job, name) != value
    ]
    if not changed and job.source == Job.Source.CODE:
        return "unchanged"
    for name in changed:
        setattr(job, name, fields[name])
    job.source = Job.Source.CODE
    if planning.Schedule.of(job) != before:
        reschedule(job, now)
    job.save()
    return "updated"
