"""The JSON shapes of the API (docs/api.rst).

``JobSerializer`` validates with the same rules as the admin and the CLI (``validation``) and never
saves: the views hand its ``validated_data`` to ``services.save_job``, the one code path that writes
jobs. Bodies as .NET clients write them are accepted too (keys in any casing, ``null`` as the
default: ``JobSerializer.to_internal_value``; docs/api.rst, ".NET spellings").
"""

from __future__ import annotations

from typing import Any

from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from django_scheduler_api import services, validation
from django_scheduler_api.api.fields import (
    JSONObjectField,
    LenientChoiceField,
    LinkField,
    UTCDateTimeField,
    non_string_errors,
)
from django_scheduler_api.api.links import absolute_url
from django_scheduler_api.api.pagination import at_most_max_take
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.cron import CronError, describe
from django_scheduler_api.models import Execution, Job, SchedulerNode, job_id_validator

# Keys of the .NET job info that name a field differently (read in any casing, as every key is:
# ``spelling_key``) -> this API's field names.
LEGACY_ALIASES = {
    "handlerType": "handler",
    "startTimeUtc": "start_time",
    "endTimeUtc": "end_time",
}


def spelling_key(key: str) -> str:
    """What the spellings of one key share: ``start_time``, ``startTime``, ``StartTime``."""
    return key.replace("_", "").lower()


class UTCModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose model datetimes are UTC instants (see ``UTCDateTimeField``)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
    }


class JobSerializer(UTCModelSerializer):
    """A job. The id comes from the URL; an ``id`` in the body must repeat it."""

    id = serializers.CharField(required=False, max_length=200, validators=[job_id_validator])
    url = LinkField("job-detail", {"id": "id"})
    group = serializers.CharField(required=False, allow_blank=True, max_length=200)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    state = LenientChoiceField(Job.State, required=False)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    handler = serializers.CharField(max_length=200, validators=[validation.validate_handler])
    cron_expression = serializers.CharField(required=False, allow_blank=True, max_length=500)
    cron_description = serializers.SerializerMethodField()
    timezone = serializers.CharField(required=False, max_length=64)
    start_time = UTCDateTimeField(required=False, allow_null=True)
    end_time = UTCDateTimeField(required=False, allow_null=True)
    misfire_policy = LenientChoiceField(Job.MisfirePolicy, required=False)
    overlap_policy = LenientChoiceField(Job.OverlapPolicy, required=False)
    data = JSONObjectField(required=False)
    executions_url = LinkField("job-executions", {"id": "id"})

    class Meta:
        model = Job
        fields = [
            "id",
            "url",
            "group",
            "name",
            "state",
            "description",
            "handler",
            "cron_expression",
            "cron_description",
            "timezone",
            "start_time",
            "end_time",
            "misfire_policy",
            "overlap_policy",
            "data",
            "next_fire_time",
            "previous_fire_time",
            "executions_url",
            "source",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["next_fire_time", "previous_fire_time", "source", "created_at", "updated_at"]

    @extend_schema_field(OpenApiTypes.STR)
    def get_cron_description(self, job: Job) -> str:
        if not job.cron_expression:
            return "Once"
        try:
            return describe(job.cron_expression)
        except CronError as exc:  # an expression stored before a stricter engine: say so, don't fail
            return f"Invalid: {exc}"

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
        defaults = services.job_defaults(self.context.get("job_id") or "")
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
        writable = {name for name, field in self.fields.items() if not field.read_only}
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            known = ", ".join(sorted(writable))
            raise serializers.ValidationError(
                {key: [f"Unknown field. Writable fields: {known}."] for key in unknown}
            )
        return {key: value for key, value in data.items() if key in writable}

    def validate_id(self, value: str) -> str:
        job_id = self.context.get("job_id")
        if job_id is not None and value != job_id:
            raise serializers.ValidationError(f"The body's id {value!r} differs from the URL's {job_id!r}.")
        return value

    def validate_cron_expression(self, value: str) -> str:
        return validation.validate_cron_expression(value)

    def validate_timezone(self, value: str) -> str:
        return validation.validate_timezone(value)

    def validate_data(self, value: Any) -> dict[str, Any]:
        return validation.validate_data(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """``end_time`` after ``start_time``, reading omitted ones from the job for a PATCH."""
        current = self.instance if self.partial else None
        start = attrs.get("start_time", getattr(current, "start_time", None))
        end = attrs.get("end_time", getattr(current, "end_time", None))
        validation.validate_window(start, end)
        attrs.pop("id", None)
        return attrs


class ExecutionSerializer(UTCModelSerializer):
    """One fire of a job and its outcome."""

    url = LinkField("execution-detail", {"id": "id"})
    job = serializers.CharField(source="job_id", read_only=True)
    job_url = LinkField("job-detail", {"id": "job_id"})
    data = JSONObjectField(read_only=True)

    class Meta:
        model = Execution
        fields = [
            "id",
            "url",
            "job",
            "job_url",
            "trigger",
            "status",
            "scheduled_fire_time",
            "fire_time",
            "started_at",
            "finished_at",
            "duration_ms",
            "data",
            "result",
            "error",
        ]
        read_only_fields = fields


class ExecutionDetailSerializer(ExecutionSerializer):
    """An execution with what only its own page shows: the handler, the worker's traceback, and what
    the handler logged while it ran."""

    class Meta(ExecutionSerializer.Meta):
        fields = [
            *ExecutionSerializer.Meta.fields,
            "handler",
            "traceback",
            "log",
            "enqueued_at",
            "created_at",
        ]
        read_only_fields = fields


class HandlerSerializer(serializers.Serializer):
    """A registered handler: its name and the first line of its docstring."""

    name = serializers.CharField()
    description = serializers.CharField()
    jobs_url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_jobs_url(self, handler: Any) -> str:
        return jobs_link(self.context["request"], {"handler": handler.name})


def jobs_link(request: Any, query: dict[str, Any]) -> str:
    """The first page of the job list with ``query`` as its filter."""
    return absolute_url(request, "job-list", {**query, "skip": 0, "take": scheduler_settings.DEFAULT_TAKE})


class JobCountSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    url = serializers.URLField()


class NodeSerializer(UTCModelSerializer):
    class Meta:
        model = SchedulerNode
        fields = ["name", "hostname", "pid", "started_at", "last_seen"]
        read_only_fields = fields


class StatusSerializer(serializers.Serializer):
    """The answer of ``GET /`` for a ``services.Status``: is a scheduler running, and how many jobs
    are in each state, each count with the link to its list."""

    is_started = serializers.BooleanField()
    all = JobCountSerializer()
    planned = JobCountSerializer()
    paused = JobCountSerializer()
    next_fire_time = UTCDateTimeField(allow_null=True)
    nodes = NodeSerializer(many=True)
    # Links to the other endpoints, as DRF's DefaultRouter root has them (``ROOT_LINKS``).
    jobs = serializers.URLField()
    executions = serializers.URLField()
    handlers = serializers.URLField()
    preview = serializers.URLField(help_text="With an example expression, so that the link works.")
    schema = serializers.URLField()
    docs = serializers.URLField(help_text="Swagger UI")

    def to_representation(self, status: services.Status) -> dict[str, Any]:
        request = self.context["request"]
        counts = {
            state: {"count": count, "url": jobs_link(request, {"state": state})}
            for state, count in status.counts.items()
        }
        return super().to_representation(
            {
                "is_started": status.is_started,
                "all": {"count": status.total, "url": jobs_link(request, {})},
                **counts,
                "next_fire_time": status.next_fire_time,
                "nodes": status.nodes,
                **root_links(request),
            }
        )


# The root's links: key -> (route name, query).
ROOT_LINKS = {
    "jobs": ("job-list", None),
    "executions": ("execution-list", None),
    "handlers": ("handler-list", None),
    "preview": ("preview", {"cron_expression": "0 15 10 ? * MON-FRI"}),
    "schema": ("schema", None),
    "docs": ("swagger-ui", None),
}


def root_links(request: Any) -> dict[str, str]:
    return {key: absolute_url(request, name, query) for key, (name, query) in ROOT_LINKS.items()}


class PreviewQuerySerializer(serializers.Serializer):
    """The query of ``GET preview``."""

    cron_expression = serializers.CharField(help_text="A Quartz cron expression, e.g. 0 15 10 ? * 2-6")
    timezone = serializers.CharField(
        required=False, source="zone", help_text="IANA zone; default: the configured one"
    )
    after = UTCDateTimeField(required=False, help_text="Fire times strictly after; default now")
    count = serializers.IntegerField(required=False, min_value=1, default=10, validators=[at_most_max_take])

    def validate_cron_expression(self, value: str) -> str:
        value = validation.validate_cron_expression(value)
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate_timezone(self, value: str) -> str:
        return validation.validate_timezone(value)


class PreviewSerializer(serializers.Serializer):
    cron_expression = serializers.CharField()
    description = serializers.CharField()
    timezone = serializers.CharField()
    fire_times = serializers.ListField(child=UTCDateTimeField())


class DeletedSerializer(serializers.Serializer):
    id = serializers.CharField()
    deleted = serializers.BooleanField()


class PausedSerializer(serializers.Serializer):
    paused = serializers.ListField(child=serializers.CharField())


class ResumedSerializer(serializers.Serializer):
    resumed = serializers.ListField(child=serializers.CharField())


class TriggeredExecutionSerializer(serializers.Serializer):
    """One execution a trigger created: its job, its id, its URL and whether django-q2 has it."""

    job = serializers.CharField(source="job_id")
    execution = serializers.UUIDField(source="id")
    url = LinkField("execution-detail", {"id": "id"})
    sent = serializers.SerializerMethodField(
        help_text="Handed to django-q2 before this answer. False if its broker failed (a scheduler "
        "sends the execution from its outbox later) or if the request runs in a transaction "
        "(it is sent when that commits)."
    )

    def get_sent(self, execution: Any) -> bool:
        return execution.enqueued_at is not None


class TriggeredSerializer(serializers.Serializer):
    triggered = TriggeredExecutionSerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    """Every error that is not about one field (the schema's ``Error``): ``detail``, plus
    ``unknown_ids`` when job ids named no job (pause, resume, trigger)."""

    detail = serializers.CharField()
    unknown_ids = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="The job ids that name no job."
    )


class FieldErrorsSerializer(serializers.Serializer):
    """A 400 about fields of the body, the query or the path (the schema's ``FieldErrors``): each
    field (or ``non_field_errors``) with its messages."""
