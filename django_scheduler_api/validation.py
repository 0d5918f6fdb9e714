"""A job's writable fields and the rules they must satisfy, for every way of defining a job.

``WRITABLE_FIELDS`` names them once; ``JobFieldsSerializer`` (derived from the model) validates them
for the REST API and for the jobs declared in code, and the admin form applies the same validators
to its fields. Each validator raises Django's ``ValidationError`` with a message a person can act
on, so every way of managing jobs refuses the same input with the same words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings
from rest_framework.utils import humanize_datetime

from django_scheduler_api import jsonvalues, planning
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.cron import CronError, CronExpression
from django_scheduler_api.engine import deadlines, store
from django_scheduler_api.models import Calendar, Job, is_job_id, job_id_validator
from django_scheduler_api.registry import HANDLER_NAME_RULE, HandlerNotRegistered, is_handler_name, registry

# The fields of a job that its definition sets (the API, the admin form, declared jobs, services);
# the others (next and previous fire time, source, created and updated) belong to the scheduler.
WRITABLE_FIELDS = (
    "id", "group", "name", "state", "description", "handler", "cron_expression", "interval",
    "interval_anchor", "repeat_count", "timezone", "start_time", "end_time", "misfire_policy",
    "overlap_policy", "max_concurrent", "jitter", "timeout", "retry_max_attempts", "retry_initial_delay",
    "retry_backoff_coefficient", "retry_max_delay", "retry_on_lost", "data", "calendars",
)  # fmt: skip

# What the scheduler keeps about a job, read-only wherever a job is shown.
SCHEDULER_FIELDS = ("next_fire_time", "previous_fire_time", "source", "created_at", "updated_at")

# Keys of the .NET job info that name a field differently (read in any casing, as every key is:
# ``spelling_key``) -> this app's field names (docs/api.rst, ".NET spellings").
LEGACY_ALIASES = {
    "handlerType": "handler",
    "startTimeUtc": "start_time",
    "endTimeUtc": "end_time",
}


def job_defaults(job_id: str) -> dict[str, Any]:
    """The value of every writable field a whole definition (a POST, a declaration) leaves out: the
    model's defaults, ``group``/``name`` from the id, the zone from ``DEFAULT_TIMEZONE``."""
    group, name = Job.split_id(job_id)
    defaults = {name: Job._meta.get_field(name).get_default() for name in WRITABLE_FIELDS}
    del defaults["id"], defaults["handler"]  # a definition always names them
    return {**defaults, "group": group, "name": name, "timezone": scheduler_settings.DEFAULT_TIMEZONE}


def validate_handler(name: str) -> str:
    """A registered handler name; the message lists the registered ones."""
    try:
        registry.get(name)
    except HandlerNotRegistered as exc:
        raise ValidationError(str(exc), code="unknown_handler") from None
    return name


def validate_handler_name(name: str) -> str:
    """A text that can be a handler's name (``registry.HANDLER_NAME_RULE``), registered or not: a
    filter by handler matches the whole name, so one with a newline is refused, not trimmed."""
    if not is_handler_name(name):
        raise ValidationError(f"Not a handler name: {HANDLER_NAME_RULE}", code="invalid_handler")
    return name


def validate_cron_expression(text: str) -> str:
    """A Quartz cron expression, stripped; empty means "fire once". The engine's message on error.

    No longer than a job can store, wherever it comes from (``preview`` too)."""
    text = (text or "").strip()
    limit = Job._meta.get_field("cron_expression").max_length
    if len(text) > limit:
        raise ValidationError(
            f"A cron expression has at most {limit} characters, not {len(text)}.", code="max_length"
        )
    if text:
        try:
            CronExpression(text)
        except CronError as exc:
            raise ValidationError(str(exc), code="invalid_cron") from None
    return text


# Names in the tz database that are not zones: "localtime" is whatever the server is set to (a job
# would change its schedule when the host moves), "Factory" a placeholder that is no zone at all.
NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return (frozenset(available_timezones()) | {"UTC"}) - NOT_ZONES


def validate_timezone(name: str) -> str:
    """An IANA time zone name such as ``Europe/Berlin``."""
    if not isinstance(name, str) or name not in _zone_names():
        raise ValidationError(
            f"Unknown time zone {name!r}. Use an IANA name such as 'UTC' or 'Europe/Berlin'.",
            code="invalid_timezone",
        )
    ZoneInfo(name)
    return name


def validate_window(start_time: datetime | None, end_time: datetime | None) -> None:
    """``end_time`` must come after ``start_time`` when both are given."""
    if start_time is not None and end_time is not None and end_time <= start_time:
        raise ValidationError(
            {"end_time": ValidationError("end_time must be after start_time.", code="invalid_window")}
        )


def validate_data(value: Any) -> dict[str, Any]:
    """Job data is a JSON object (handed to the handler as a dict) that every database stores alike."""
    if not isinstance(value, dict):
        raise ValidationError("data must be a JSON object.", code="invalid_data")
    found = jsonvalues.problem(value)
    if found:
        raise ValidationError(found, code="invalid_data")
    return value


def validate_timeout(value: int | None) -> int | None:
    """A job's timeout: whole seconds from 1 up to what the deployment allows
    (``engine.deadlines.timeout_limit``: django-q2's cluster ``timeout``, ``EXECUTION_TIMEOUT``);
    null for no limit of the job's own (docs/scheduling.rst, "Timeouts")."""
    limit = deadlines.timeout_limit()
    if value is not None and value > limit:  # the lower bound, 1, is the model field's
        raise ValidationError(
            f"timeout may be at most {limit} s: django-q2's cluster timeout (Q_CLUSTER['timeout']) and "
            "EXECUTION_TIMEOUT bound every run.",
            code="invalid_timeout",
        )
    return value


def validate_interval_schedule(
    *,
    cron_expression: str,
    interval: int | None,
    interval_anchor: datetime | None,
    repeat_count: int | None,
    start_time: datetime | None,
) -> None:
    """An interval is the alternative to cron, and its anchor and repeat count need it.

    A repeat count needs an instant to count from (``interval_anchor`` or ``start_time``): counted
    from the Unix epoch, the default anchor, it would have run out long ago (docs/scheduling.rst).
    """
    errors: dict[str, str] = {}
    if interval and cron_expression:
        errors["interval"] = "Give either cron_expression or interval, not both."
    if not interval:
        if interval_anchor is not None:
            errors["interval_anchor"] = "interval_anchor needs an interval."
        if repeat_count is not None:
            errors["repeat_count"] = "repeat_count needs an interval."
    elif repeat_count is not None and interval_anchor is None and start_time is None:
        errors["repeat_count"] = (
            "repeat_count needs interval_anchor or start_time: the fires are counted from it."
        )
    if errors:
        raise ValidationError(
            {name: ValidationError(message, code="invalid_schedule") for name, message in errors.items()}
        )


def validate_retry_delays(initial_delay: int | None, max_delay: int | None) -> None:
    """A retry's longest delay is not below its first (docs/scheduling.rst, "Retries")."""
    if max_delay is not None and initial_delay is not None and max_delay < initial_delay:
        raise ValidationError(
            {
                "retry_max_delay": ValidationError(
                    "retry_max_delay must be at least retry_initial_delay.", code="invalid_retry"
                )
            }
        )


def validate_relations(value: Callable[[str], Any]) -> None:
    """Every rule between a job's fields, ``value(name)`` giving each (as for ``validate_schedule``):
    the schedule's and the retry policy's."""
    validate_schedule(value)
    validate_retry_delays(value("retry_initial_delay"), value("retry_max_delay"))


def validate_overlap(overlap_policy: str, max_concurrent: int | None) -> None:
    """``max_concurrent`` bounds the runs of ``skip`` and ``buffer_one``; ``allow`` has no bound to
    set (docs/scheduling.rst, "Overlap")."""
    if max_concurrent is not None and overlap_policy == Job.OverlapPolicy.ALLOW:
        message = "max_concurrent needs overlap_policy skip or buffer_one (allow sets no limit)."
        raise ValidationError({"max_concurrent": ValidationError(message, code="invalid_overlap")})


def validate_schedule(value: Callable[[str], Any]) -> None:
    """The rules between a job's fields: the window, and an interval instead of cron. ``value(name)``
    gives a field's value (the field of a body over the stored job, for a PATCH), so that each front
    end says where its values come from and none repeats which fields the rules read."""
    validate_window(value("start_time"), value("end_time"))
    validate_interval_schedule(
        cron_expression=value("cron_expression") or "",
        interval=value("interval"),
        interval_anchor=value("interval_anchor"),
        repeat_count=value("repeat_count"),
        start_time=value("start_time"),
    )


# How many calendar ids a refusal lists at most (a project may have many calendars).
LISTED_CALENDARS = 20


def validate_calendars(value: Any, *, lock: bool = False) -> list[str]:
    """A list of ids of existing calendars, duplicates dropped, order kept (docs/scheduling.rst,
    "Calendars"). With ``lock`` the calendars' rows are locked for the caller's transaction, so a
    calendar cannot be deleted between this check and the job's save."""
    if not isinstance(value, list | tuple) or not all(isinstance(name, str) for name in value):
        raise ValidationError("calendars must be a list of calendar ids.", code="invalid_calendars")
    names = list(dict.fromkeys(value))
    found = Calendar.objects.filter(id__in=[name for name in names if is_job_id(name)])
    if lock:
        found = found.select_for_update()
    known = set(found.values_list("id", flat=True))
    missing = [name for name in names if name not in known]
    if missing:
        existing = list(Calendar.objects.order_by("id").values_list("id", flat=True)[: LISTED_CALENDARS + 1])
        listed = ", ".join(existing[:LISTED_CALENDARS]) + (
            ", ..." if len(existing) > LISTED_CALENDARS else ""
        )
        raise ValidationError(
            f"Unknown calendar {', '.join(repr(name) for name in missing)}. "
            f"Calendars: {listed or 'none yet'}.",
            code="unknown_calendar",
        )
    return names


def lock_calendars(names: list[str]) -> None:
    """Lock the rows of the calendars a job is saved with; ValidationError if one is gone."""
    try:
        validate_calendars(names, lock=True)
    except ValidationError as exc:
        raise ValidationError({"calendars": exc}) from None


def validate_fire_left(value: Callable[[str], Any], now: datetime | None = None) -> None:
    """A job whose calendars exclude every fire is refused: it would never fire, and nobody would
    be told. ``value(name)`` gives a field's value, as for ``validate_schedule``."""
    names = list(value("calendars") or ())
    if not names:
        return
    job = SimpleNamespace(**{name: value(name) for name in WRITABLE_FIELDS})
    schedule = planning.Schedule.of(job, store.calendar_rules(names))
    try:
        planning.next_fire_time(schedule, now or timezone.now())
    except planning.ExcludedEverything as exc:
        raise ValidationError({"calendars": ValidationError(str(exc), code="excludes_everything")}) from None


# ISO 8601's extended format as RFC 3339 writes it, in ASCII digits: a date, a time to the minute at
# least and an optional offset (none: UTC). Python's parser also takes week dates ("2026-W01-1"),
# ordinal dates and any Unicode digit, which nobody means.
ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?"
    r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?",
    re.ASCII,
)


# -- the serializer of a job's writable fields -------------------------------------------------------

_SEPARATORS = re.compile(r"[\s_\-]")


def _normal(text: str) -> str:
    return _SEPARATORS.sub("", text).lower()


def spelling_key(key: str) -> str:
    """What the spellings of one key share: ``start_time``, ``startTime``, ``StartTime``."""
    return key.replace("_", "").lower()


class LenientChoiceField(serializers.ChoiceField):
    """A choice that also accepts the .NET spellings: ``Planned``, ``DoNothing``, ``FIRE_AND_PROCEED``
    and the enum's number (its position in ``choices``, 0-based), in any case. Answers are always
    the snake_case value.
    """

    def __init__(self, choices: type[models.TextChoices], **kwargs: Any) -> None:
        self.choices_class = choices
        self._lookup: dict[str, str] = {}
        self._numbers = {str(number): value for number, value in enumerate(choices.values)}
        for value in choices.values:
            self._lookup[_normal(value)] = value
        for value, label in choices.choices:
            self._lookup.setdefault(_normal(str(label)), value)
        super().__init__(choices=choices.choices, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid_choice", input=data)
        text = str(data)
        # A number exactly as written: separators are ignored in names only, so "-1" is not 1.
        is_number = isinstance(data, int) or (text.isascii() and text.isdigit())
        value = self._numbers.get(text) if is_number else self._lookup.get(_normal(text))
        if value is None:
            self.fail("invalid_choice", input=data)
        return value

    def dotnet_names(self) -> list[str]:
        """The .NET enum names (``Planned``, ``DoNothing``), for the schema of requests."""
        values = self.choices_class.values
        return ["".join(part.capitalize() for part in value.split("_")) for value in values]


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {},
        "description": "A JSON object, handed to the handler.",
        "example": {"recipients": ["ops@example.com"], "dry_run": False},
    }
)
class JSONObjectField(serializers.JSONField):
    """A JSON object (the schema says so, so that a client or Swagger UI never sends a string)."""


class UTCDateTimeField(serializers.DateTimeField):
    """Instants in UTC both ways, whatever the project's ``TIME_ZONE``: answers end in ``Z`` and a
    time sent without an offset is read as UTC (docs/api.rst, "Jobs")."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", UTC)
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> datetime:
        """Only ``2026-05-01T12:00:00Z`` and its shorter forms, in ASCII digits (``ISO_DATETIME``)."""
        if isinstance(value, str) and not ISO_DATETIME.fullmatch(value):
            formats = getattr(self, "input_formats", api_settings.DATETIME_INPUT_FORMATS)
            self.fail("invalid", format=humanize_datetime.datetime_formats(formats))
        return super().to_internal_value(value)


def non_string_errors(fields: dict[str, serializers.Field], data: dict[str, Any]) -> dict[str, list[str]]:
    """The writable text fields of ``data`` whose value is a number or another non-string.

    DRF's ``CharField`` turns ``42`` into ``"42"``; a description or a group sent as a number is a
    client's mistake, refused like an unknown key. (``null`` is left to the field's own rule.)
    """
    return {
        name: [f"Must be a string, not {type(data[name]).__name__}."]
        for name, field in fields.items()
        if isinstance(field, serializers.CharField)
        and not field.read_only
        and name in data
        and data[name] is not None
        and not isinstance(data[name], str)
    }


def writable_only(fields: dict[str, serializers.Field], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without its read-only keys (so that what GET answers can be sent back); an unknown
    key is a 400 naming it and the writable ones (a typo must never pass silently)."""
    writable = {name for name, field in fields.items() if not field.read_only}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        known = ", ".join(sorted(writable))
        raise serializers.ValidationError(
            {key: [f"Unknown field. Writable fields: {known}."] for key in unknown}
        )
    return {key: value for key, value in data.items() if key in writable}


class UTCModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose model datetimes are UTC instants (see ``UTCDateTimeField``)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
    }


class JobFieldsSerializer(UTCModelSerializer):
    """A job's writable fields, built from the model and checked with the validators above.

    The API's ``JobSerializer`` and the jobs declared in code validate with it, so both accept the
    same input (keys in any casing, ``"state": "Planned"``, ``null`` as the default) and refuse the
    rest with the same messages. It never saves: ``services.save_job`` writes.
    """

    state = LenientChoiceField(Job.State, required=False)
    misfire_policy = LenientChoiceField(Job.MisfirePolicy, required=False)
    overlap_policy = LenientChoiceField(Job.OverlapPolicy, required=False)
    data = JSONObjectField(required=False)
    calendars = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False),
        required=False,
        help_text="Ids of calendars whose excluded dates and times this job does not fire in.",
    )

    class Meta:
        model = Job
        fields = WRITABLE_FIELDS
        extra_kwargs: dict[str, dict[str, Any]] = {
            # The id comes from the URL in the API; its own validators replace the unique check.
            # Identifiers are taken as sent, never trimmed: ``ghost\n`` is refused, not read as
            # ``ghost`` (they match whole, issue 21).
            "id": {"required": False, "validators": [job_id_validator], "trim_whitespace": False},
            # Empty group and name are derived from the id.
            "group": {"required": False, "allow_blank": True, "trim_whitespace": False},
            "name": {"required": False, "allow_blank": True},
            "description": {"trim_whitespace": False},
            "handler": {"validators": [validate_handler], "trim_whitespace": False},
            "interval": {"help_text": "Fire every this many seconds instead of by cron."},
            "interval_anchor": {
                "help_text": "The instant the interval counts from; default start_time, else the Unix epoch."
            },
            "repeat_count": {"help_text": "Fires after the first (0: once); null: for ever."},
            "jitter": {"help_text": "Delay each fire by up to this many seconds, the same in every process."},
            "retry_max_attempts": {
                "help_text": "Attempts of a fire in all, the first included; 1: no retry (docs: Retries)."
            },
            "retry_initial_delay": {"help_text": "Seconds from a failed attempt's end to the first retry."},
            "retry_backoff_coefficient": {
                "help_text": "Each later delay: the one before times this (1 or more)."
            },
            "retry_max_delay": {"help_text": "The longest delay, in seconds; null: no limit."},
            "retry_on_lost": {"help_text": "Retry lost executions too, not only failed ones."},
            "max_concurrent": {
                "help_text": "Runs at once under overlap_policy skip or buffer_one; null: one."
            },
            "timeout": {
                "help_text": "Stop a run's handler after this many seconds (it fails); null: no limit.",
                "validators": [validate_timeout],
            },
        }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """Read keys in any casing, refuse unknown ones (a typo must never pass silently), ignore the
        read-only ones (so a job fetched with GET can be posted back), read ``null`` for an optional
        field as its default, then validate field by field."""
        if isinstance(data, dict):
            data = self._nulls_as_defaults(self._without_read_only(self._canonical_keys(data)))
            errors = non_string_errors(self.fields, data)
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def _canonical_keys(self, data: dict[str, Any]) -> dict[str, Any]:
        """Each key under its field's name, whatever the spelling: ``cron_expression``,
        ``cronExpression``, ``CronExpression``, and the .NET names (``HandlerType``, ``StartTimeUtc``).
        Two spellings of one field with different values are a 400; an unknown key is kept as sent,
        for ``_without_read_only`` to name it."""
        names = {spelling_key(name): name for name in self.fields}
        names.update((spelling_key(alias), name) for alias, name in LEGACY_ALIASES.items())
        canonical: dict[str, Any] = {}
        sent_as: dict[str, str] = {}
        for key, value in data.items():
            name = names.get(spelling_key(key), key)
            if name in canonical and canonical[name] != value:
                spelling, other = (key, sent_as[name]) if key != name else (sent_as[name], key)
                raise serializers.ValidationError(
                    {spelling: [f"Conflicts with {other!r}; send one of them."]}
                )
            canonical[name], sent_as[name] = value, key
        return canonical

    def _nulls_as_defaults(self, data: dict[str, Any]) -> dict[str, Any]:
        """An explicit ``null`` for an optional field means its default, as an omitted key does in
        a POST (.NET serializers write ``null`` for every unset property). A PATCH sets the default."""
        job_id = self.context.get("job_id") or data.get("id")
        defaults = job_defaults(job_id if isinstance(job_id, str) else "")
        result = {}
        for key, value in data.items():
            field = self.fields[key]
            if value is None and not field.allow_null and not field.required:
                if key not in defaults:  # ``id``: the URL's
                    continue
                value = defaults[key]
            result[key] = value
        return result

    def _without_read_only(self, data: dict[str, Any]) -> dict[str, Any]:
        return writable_only(self.fields, data)

    def validate_cron_expression(self, value: str) -> str:
        return validate_cron_expression(value)

    def validate_timezone(self, value: str) -> str:
        return validate_timezone(value)

    def validate_data(self, value: Any) -> dict[str, Any]:
        return validate_data(value)

    def validate_calendars(self, value: Any) -> list[str]:
        return validate_calendars(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The rules between fields (``validate_relations``, ``validate_fire_left``), reading omitted
        ones from the job for a PATCH and as their defaults otherwise."""
        current = self.instance if self.partial else None
        job_id = self.context.get("job_id") or attrs.get("id")
        defaults = job_defaults(job_id if isinstance(job_id, str) else "") if current is None else {}
        defaults["id"] = job_id

        def value(name: str) -> Any:
            return attrs.get(name, getattr(current, name, defaults.get(name)))

        validate_relations(value)
        validate_fire_left(value)
        validate_overlap(value("overlap_policy"), value("max_concurrent"))
        return attrs


def error_message(detail: Any) -> str:
    """A serializer's errors as ``field: message`` lines, the words of the API's 400 answer."""
    if isinstance(detail, dict):
        return "\n".join(f"{field}: {error_message(errors)}" for field, errors in detail.items())
    if isinstance(detail, list):
        return " ".join(error_message(item) for item in detail)
    return str(detail)


def refusal_detail(exc: ValidationError) -> dict[str, list[str]] | list[str]:
    """A refusal of ``services`` (Django's ``ValidationError``) as the API's 400 says it: field
    errors by field, or the messages of a refusal of the whole request (``{"detail"}``)."""
    return exc.message_dict if hasattr(exc, "error_dict") else exc.messages
