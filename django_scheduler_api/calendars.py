"""Calendars: their fields' rules and every operation on them, for the API, the admin and the CLI.

A calendar is a named set of exclusions that jobs name in their ``calendars`` field
(docs/scheduling.rst, "Calendars"). ``CalendarFieldsSerializer`` holds the rules of its fields (one
place, as ``validation.JobFieldsSerializer`` does for jobs); ``save_calendar`` and
``delete_calendar`` do every write. Changing a calendar recomputes the next fire of every job that
names it in the same transaction, and refuses the change (nothing saved) when a job would be left
without any fire. A calendar that jobs name cannot be deleted: ``CalendarInUse`` lists them (a 409
in the API), since dropping it silently would make those jobs fire on the days it excluded.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import serializers

from django_scheduler_api import planning, services, validation
from django_scheduler_api.engine import store, wakeup
from django_scheduler_api.exclusions import CalendarRules, month_day
from django_scheduler_api.models import Calendar, Job, is_stored_key, job_id_validator

# The fields of a calendar that its definition sets; the rest (created, updated) are kept for it.
CALENDAR_FIELDS = ("id", "description", "dates", "date_ranges", "yearly_dates", "cron_expressions")
# Entries of one kind a calendar holds at most: enough for a century of holidays, and a bound on
# what every fire-time search reads.
MAX_ENTRIES = 5000

ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
MONTH_DAY = re.compile(r"[0-9]{2}-[0-9]{2}", re.ASCII)


class NoSuchCalendar(LookupError):
    """The calendar a request names does not exist (a 404 in the API)."""

    def __init__(self, calendar_id: str) -> None:
        self.calendar_id = calendar_id
        super().__init__(f"No calendar with id {calendar_id!r}.")


class CalendarInUse(Exception):
    """A calendar that jobs name cannot be deleted; ``jobs`` lists them (a 409 in the API)."""

    def __init__(self, calendar_id: str, jobs: list[str]) -> None:
        self.calendar_id, self.jobs = calendar_id, jobs
        super().__init__(
            f"Calendar {calendar_id!r} is used by {len(jobs)} job(s): {', '.join(jobs)}. "
            "Remove it from their calendars first."
        )


# -- the rules of a calendar's fields -------------------------------------------------------------


def _entries(value: Any, kind: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValidationError(f"{kind} must be a list.", code="invalid_calendar")
    if len(value) > MAX_ENTRIES:
        raise ValidationError(
            f"{kind} holds at most {MAX_ENTRIES} entries, not {len(value)}.", code="invalid_calendar"
        )
    return value


def parse_date(text: Any) -> date:
    """``2026-12-25``: a date as ISO 8601 writes it, in ASCII digits."""
    if isinstance(text, str) and ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValidationError(f"{text!r} is not a date: write YYYY-MM-DD, e.g. 2026-12-25.", code="invalid_date")


def validate_dates(value: Any) -> list[str]:
    """Excluded local dates, sorted, each once."""
    return sorted({parse_date(text).isoformat() for text in _entries(value, "dates")})


def validate_date_ranges(value: Any) -> list[dict[str, str]]:
    """Inclusive ranges ``{"start": "2026-12-24", "end": "2026-12-31"}``, end not before start."""
    ranges = []
    for entry in _entries(value, "date_ranges"):
        if not isinstance(entry, dict) or set(entry) != {"start", "end"}:
            raise ValidationError(
                f'{entry!r} is not a range: write {{"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}}.',
                code="invalid_range",
            )
        start, end = parse_date(entry["start"]), parse_date(entry["end"])
        if end < start:
            raise ValidationError(f"The range {start} to {end} ends before it starts.", code="invalid_range")
        ranges.append({"start": start.isoformat(), "end": end.isoformat()})
    return ranges


def validate_yearly_dates(value: Any) -> list[str]:
    """Dates excluded every year, ``MM-DD`` (``02-29`` excludes 29 February in leap years)."""
    days = set()
    for text in _entries(value, "yearly_dates"):
        try:
            if not (isinstance(text, str) and MONTH_DAY.fullmatch(text)):
                raise ValueError
            days.add(month_day(text))
        except ValueError:
            raise ValidationError(
                f"{text!r} is not a day of the year: write MM-DD, e.g. 12-25.", code="invalid_yearly_date"
            ) from None
    return [f"{month:02d}-{day:02d}" for month, day in sorted(days)]


def validate_cron_expressions(value: Any) -> list[str]:
    """Quartz cron expressions (the engine's message on error) whose selected seconds are excluded."""
    expressions = []
    for text in _entries(value, "cron_expressions"):
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(f"{text!r} is not a cron expression.", code="invalid_cron")
        expressions.append(validation.validate_cron_expression(text))
    return list(dict.fromkeys(expressions))


class CalendarFieldsSerializer(validation.UTCModelSerializer):
    """A calendar's writable fields and their rules, for the API, the admin and the CLI. It never
    saves: ``save_calendar`` writes."""

    dates = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False, help_text="Excluded dates, YYYY-MM-DD."
    )
    date_ranges = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField(allow_blank=True)),
        required=False,
        help_text='Excluded inclusive ranges, {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}.',
    )
    yearly_dates = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="Dates excluded every year, MM-DD.",
    )
    cron_expressions = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="Quartz cron expressions; the seconds they select are excluded.",
    )

    class Meta:
        model = Calendar
        fields = CALENDAR_FIELDS
        extra_kwargs: dict[str, dict[str, Any]] = {
            "id": {"required": False, "validators": [job_id_validator], "trim_whitespace": False},
            "description": {"trim_whitespace": False},
        }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """Unknown keys are refused (a typo must not pass silently); read-only ones ignored;
        ``null`` is the field's default."""
        if isinstance(data, dict):
            data = validation.writable_only(self.fields, data)
            defaults = calendar_defaults()
            data = {
                key: defaults[key] if value is None and key in defaults else value
                for key, value in data.items()
            }
            errors = validation.non_string_errors(self.fields, data)
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def validate_dates(self, value: Any) -> list[str]:
        return validate_dates(value)

    def validate_date_ranges(self, value: Any) -> list[dict[str, str]]:
        return validate_date_ranges(value)

    def validate_yearly_dates(self, value: Any) -> list[str]:
        return validate_yearly_dates(value)

    def validate_cron_expressions(self, value: Any) -> list[str]:
        return validate_cron_expressions(value)


def calendar_defaults() -> dict[str, Any]:
    """What a whole definition (a POST) leaves out takes the model's default."""
    return {name: Calendar._meta.get_field(name).get_default() for name in CALENDAR_FIELDS if name != "id"}


# -- questions and operations -----------------------------------------------------------------------


def list_calendars() -> QuerySet[Calendar]:
    return Calendar.objects.order_by("id")


def get_calendar(calendar_id: str) -> Calendar:
    """The calendar ``calendar_id``; NoSuchCalendar if there is none."""
    calendar = Calendar.objects.filter(pk=calendar_id).first() if is_stored_key(calendar_id) else None
    if calendar is None:
        raise NoSuchCalendar(calendar_id)
    return calendar


def jobs_using(calendar_id: str, *, lock: bool = False) -> list[Job]:
    """The jobs that name the calendar, by id. Jobs without calendars are left out by the query;
    the names are compared here, the same way on every database."""
    named = Job.objects.exclude(calendars=[]).order_by("id")
    if lock:
        named = named.select_for_update()
    return [job for job in named if calendar_id in (job.calendars or ())]


def save_calendar(
    calendar_id: str, fields: dict[str, Any], *, partial: bool = False
) -> tuple[Calendar, bool]:
    """Create or replace (``partial``: update) a calendar from validated fields; returns (calendar,
    created). Two concurrent creations of one id: the loser retries as an update."""
    try:
        return _save_calendar(calendar_id, fields, partial=partial)
    except IntegrityError:
        return _save_calendar(calendar_id, fields, partial=partial)


@transaction.atomic
def _save_calendar(calendar_id: str, fields: dict[str, Any], *, partial: bool) -> tuple[Calendar, bool]:
    calendar = Calendar.objects.select_for_update().filter(pk=calendar_id).first()
    created = calendar is None
    if created and partial:
        raise NoSuchCalendar(calendar_id)
    if calendar is None:
        calendar = Calendar(id=calendar_id)
    values = dict(fields) if partial else {**calendar_defaults(), **fields}
    values.pop("id", None)
    for key, value in values.items():
        setattr(calendar, key, value)
    calendar.save(force_insert=created)
    if not created:
        _replan_users(calendar_id)
    return calendar, created


def _replan_users(calendar_id: str) -> None:
    """Recompute from now the next fire of every job naming the calendar (its rows locked, in the
    caller's transaction); ValidationError, so that nothing is saved, if one would have none."""
    jobs = jobs_using(calendar_id, lock=True)
    if not jobs:
        return
    now = timezone.now()
    _refuse_stranded(_replan(jobs, store.calendar_rules(name for job in jobs for name in job.calendars), now))
    for job in jobs:
        job.updated_at = now
    Job.objects.bulk_update(jobs, ["next_fire_time", "updated_at"])
    wakeup.notify_jobs_changed()


def check_change(calendar_id: str, proposed: Any) -> None:
    """Refuse, before anything is written, a calendar (``proposed``: anything with a calendar's
    fields) that would leave a job naming it without any fire: the admin form's check of what
    ``save_calendar`` refuses in its transaction, with the same message."""
    jobs = jobs_using(calendar_id)
    if not jobs:
        return
    rules = store.calendar_rules(name for job in jobs for name in job.calendars)
    rules[calendar_id] = CalendarRules.of(SimpleNamespace(**{**vars(proposed), "id": calendar_id}))
    _refuse_stranded(_replan(jobs, rules, timezone.now()))


def _replan(jobs: list[Job], rules: dict[str, CalendarRules], now: datetime) -> list[str]:
    """Recompute each job's next fire with ``rules``; the ids of those left without any."""
    stranded = []
    for job in jobs:
        try:
            services.reschedule(job, now, rules)
        except planning.ExcludedEverything:
            stranded.append(job.id)
    return stranded


def _refuse_stranded(job_ids: list[str]) -> None:
    if job_ids:
        raise ValidationError(
            {
                "non_field_errors": ValidationError(
                    f"The calendar would exclude every fire of job(s) {', '.join(job_ids)}: "
                    "they would never fire. Nothing was saved.",
                    code="excludes_everything",
                )
            }
        )


@transaction.atomic
def delete_calendar(calendar_id: str) -> None:
    """Delete a calendar no job names; CalendarInUse (nothing deleted) when some do."""
    calendar = (
        Calendar.objects.select_for_update().filter(pk=calendar_id).first()
        if is_stored_key(calendar_id)
        else None
    )
    if calendar is None:
        raise NoSuchCalendar(calendar_id)
    users = jobs_using(calendar_id)
    if users:
        raise CalendarInUse(calendar_id, [job.id for job in users])
    calendar.delete()
