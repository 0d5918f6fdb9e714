"""``scheduler create`` and ``scheduler update``: a job's writable fields from the command line.

Each field of ``validation.WRITABLE_FIELDS`` is an option (``--cron-expression``, ``--start-time``,
...), read as the API reads the same key of a job's body: validated by the API's ``JobSerializer``
(so refused with the API's words) and saved by ``services.save_job``. ``create`` is ``POST
/jobs/{id}`` and ``update`` is ``PATCH /jobs/{id}``; both answer the API's JSON for the job.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management.base import CommandError
from rest_framework.request import Request

from django_scheduler_api import jsonvalues, services
from django_scheduler_api.api.serializers import JobSerializer
from django_scheduler_api.cli.api import validated
from django_scheduler_api.models import job_id_validator
from django_scheduler_api.validation import WRITABLE_FIELDS, error_message

# The options: every writable field but the id (the positional argument), in the API's order.
FIELDS = tuple(name for name in WRITABLE_FIELDS if name != "id")
# What an option's value ``null`` means: JSON's null, the field's default (as in the API's body).
NULL = "null"


def option(name: str) -> str:
    """``cron_expression`` -> ``--cron-expression``."""
    return "--" + name.replace("_", "-")


def field_values(options: dict[str, Any]) -> dict[str, Any]:
    """The fields given on the command line, as the API's body would carry them: text as typed,
    ``null`` as null, ``--data`` parsed as JSON by the API's rules (its ``data`` rule then wants an
    object), ``--calendars`` as a list of ids (``a,b``; empty: none)."""
    body = {}
    for name in FIELDS:
        raw = options.get(name)
        if raw is None:
            continue
        if raw == NULL:
            body[name] = None
        elif name == "data":
            body[name] = parse_json(raw)
        elif name == "calendars":
            body[name] = services.parse_ids(raw)  # ids separated by , or ; as the API's lists
        else:
            body[name] = raw
    return body


def parse_json(raw: str) -> Any:
    """JSON read by the API's rules for a body (``jsonvalues``); a parse error in the API's words."""
    try:
        return jsonvalues.loads(raw)
    except ValueError as exc:
        raise CommandError(f"JSON parse error - {exc}") from None


def create(options: dict[str, Any], request: Request) -> dict[str, Any]:
    """``POST /jobs/{id}``: a new job from the fields given, the others at their defaults. An
    existing job is refused unless ``--replace`` (then it is replaced whole, as a POST does)."""
    job_id = _valid_id(options["id"])
    if not options.get("replace") and _exists(job_id):
        raise CommandError(
            f"Job {job_id!r} exists: `scheduler update` changes fields of it, `scheduler create --replace` "
            "replaces it whole."
        )
    fields = validated(JobSerializer, field_values(options), job_id=job_id)
    job, _created = services.save_job(job_id, fields)
    return JobSerializer(job, context={"request": request}).data


def update(options: dict[str, Any], request: Request) -> dict[str, Any]:
    """``PATCH /jobs/{id}``: change the fields given, read over the stored job."""
    job_id = _valid_id(options["id"])
    job = services.get_job(job_id)
    fields = validated(JobSerializer, field_values(options), instance=job, partial=True, job_id=job_id)
    job, _created = services.save_job(job_id, fields, partial=True)
    return JobSerializer(job, context={"request": request}).data


def _valid_id(job_id: str) -> str:
    """The id as the API checks a path's: a malformed one is refused naming ``id``."""
    try:
        job_id_validator(job_id)
    except DjangoValidationError as exc:
        raise CommandError(error_message({"id": exc.messages})) from None
    return job_id


def _exists(job_id: str) -> bool:
    try:
        services.get_job(job_id)
    except services.NoSuchJob:
        return False
    return True
