"""The JSON shapes of the API (docs/api.rst).

``JobSerializer`` validates with the same rules as the admin and the CLI (``validation``) and never
saves: the views hand its ``validated_data`` to ``services.save_job``, the one code path that writes
jobs. Bodies as .NET clients write them are accepted too (keys in any casing, ``null`` as the
default: ``validation.JobFieldsSerializer``; docs/api.rst, ".NET spellings"), and declared jobs are
validated by that same serializer.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from django_scheduler_api import calendars, services, validation
from django_scheduler_api.api.fields import LinkField
from django_scheduler_api.api.links import absolute_url
from django_scheduler_api.api.pagination import at_most_max_take
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.models import MAX_INTERVAL, Execution, Job, SchedulerNode, job_id_validator
from django_scheduler_api.planning import describe_schedule
from django_scheduler_api.validation import JSONObjectField, UTCDateTimeField

# The answer's fields shown right after the field they belong to.
EXPLAINED_BY = {"id": ("url",), "cron_expression": ("cron_description",)}


# The writable fields and their rules are validation.JobFieldsSerializer's; this adds what the
# scheduler keeps about a job and the links. (The docstring is the schema's description.)
class JobSerializer(validation.JobFieldsSerializer):
    """A job. The id comes from the URL; an ``id`` in the body must repeat it."""

    url = LinkField("job-detail", {"id": "id"})
    cron_description = serializers.SerializerMethodField()
    executions_url = LinkField("job-executions", {"id": "id"})

    class Meta(validation.JobFieldsSerializer.Meta):
        # The writable fields in their order, each with the link or text that explains it, then
        # the scheduler's fields; the answer's keys come in this order.
        fields = [
            *[f for name in validation.WRITABLE_FIELDS for f in (name, *EXPLAINED_BY.get(name, ()))],
            *validation.SCHEDULER_FIELDS[:2],
            "executions_url",
            *validation.SCHEDULER_FIELDS[2:],
        ]
        read_only_fields = validation.SCHEDULER_FIELDS

    @extend_schema_field(OpenApiTypes.STR)
    def get_cron_description(self, job: Job) -> str:
        """The schedule in words: the cron expression's or the interval's."""
        return describe_schedule(job.cron_expression, job.interval)

    def validate_id(self, value: str) -> str:
        job_id = self.context.get("job_id")
        if job_id is not None and value != job_id:
            raise serializers.ValidationError(f"The body's id {value!r} differs from the URL's {job_id!r}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The fields' rules; the id is the URL's, so the body's (checked equal) is dropped."""
        attrs = super().validate(attrs)
        attrs.pop("id", None)
        return attrs


class ExecutionSerializer(validation.UTCModelSerializer):
    """One fire of a job and its outcome."""

    url = LinkField("execution-detail", {"id": "id"})
    job = serializers.CharField(source="job_id", read_only=True)
    job_url = LinkField("job-detail", {"id": "job_id"})
    first_execution = serializers.UUIDField(
        source="first_execution_id",
        read_only=True,
        allow_null=True,
        help_text="For a retry, the first execution of its chain of attempts; null for a first attempt.",
    )
    first_execution_url = serializers.SerializerMethodField()
    data = JSONObjectField(read_only=True)

    class Meta:
        model = Execution
        fields = [
            "id",
            "url",
            "job",
            "job_url",
            "trigger",
            "attempt",
            "first_execution",
            "first_execution_url",
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
        extra_kwargs = {"attempt": {"help_text": "The number of this attempt of its fire: 1 for the first."}}

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_first_execution_url(self, execution: Execution) -> str | None:
        first = execution.first_execution_id
        if first is None:
            return None
        return absolute_url(self.context["request"], "execution-detail", id=str(first))


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


class NodeSerializer(validation.UTCModelSerializer):
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

    cron_expression = serializers.CharField(
        required=False, help_text="A Quartz cron expression, e.g. 0 15 10 ? * 2-6 (or give interval)"
    )
    interval = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_INTERVAL, help_text="Seconds between fires (not with cron)"
    )
    interval_anchor = UTCDateTimeField(
        required=False, help_text="The instant the interval counts from; default the Unix epoch"
    )
    repeat_count = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_INTERVAL,
        help_text="Fires after the first; default: for ever",
    )
    timezone = serializers.CharField(
        required=False, source="zone", help_text="IANA zone; default: the configured one"
    )
    after = UTCDateTimeField(required=False, help_text="Fire times strictly after; default now")
    count = serializers.IntegerField(required=False, min_value=1, default=10, validators=[at_most_max_take])
    calendar = serializers.CharField(
        required=False,
        trim_whitespace=False,
        source="calendars",
        help_text="Calendar ids separated by , whose excluded times are skipped (read in timezone)",
    )
    jitter = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_INTERVAL,
        help_text="The job's jitter in seconds (needs job)",
    )
    job = serializers.CharField(
        required=False,
        trim_whitespace=False,
        validators=[job_id_validator],
        help_text="The id of the job whose jitter delays the fires (each job's delays derive from its id)",
    )

    def validate_cron_expression(self, value: str) -> str:
        value = validation.validate_cron_expression(value)
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate_timezone(self, value: str) -> str:
        return validation.validate_timezone(value)

    def validate_calendar(self, value: str) -> list[str]:
        names = services.parse_ids(value)
        if not names:
            raise serializers.ValidationError("Names no calendar id. Leave calendar out for none.")
        return validation.validate_calendars(names)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Exactly one of ``cron_expression`` and ``interval``, with the job's rules between them."""
        if not attrs.get("cron_expression") and not attrs.get("interval"):
            raise serializers.ValidationError({"cron_expression": ["Give cron_expression or interval."]})
        validation.validate_interval_schedule(
            cron_expression=attrs.get("cron_expression", ""),
            interval=attrs.get("interval"),
            interval_anchor=attrs.get("interval_anchor"),
            repeat_count=attrs.get("repeat_count"),
            start_time=None,
        )
        if attrs.get("jitter") and not attrs.get("job"):
            raise serializers.ValidationError(
                {"job": ["jitter needs job: each job's delays are derived from its id."]}
            )
        return attrs


class PreviewSerializer(serializers.Serializer):
    cron_expression = serializers.CharField(help_text="Empty for an interval")
    description = serializers.CharField()
    timezone = serializers.CharField()
    fire_times = serializers.ListField(child=UTCDateTimeField())
    interval = serializers.IntegerField(allow_null=True)
    interval_anchor = UTCDateTimeField(allow_null=True)
    repeat_count = serializers.IntegerField(allow_null=True)
    calendars = serializers.ListField(
        child=serializers.CharField(), help_text="The calendars whose excluded times are skipped"
    )
    jitter = serializers.IntegerField(help_text="The jitter the fire times are delayed by (0: none)")
    job = serializers.CharField(help_text="The job whose id the jitter's delays derive from")


class CalendarSerializer(calendars.CalendarFieldsSerializer):
    """A calendar: a named set of excluded dates and times that jobs name in ``calendars``. The id
    comes from the URL; an ``id`` in the body must repeat it."""

    url = LinkField("calendar-detail", {"id": "id"})

    class Meta(calendars.CalendarFieldsSerializer.Meta):
        fields = ["id", "url", *calendars.CALENDAR_FIELDS[1:], "created_at", "updated_at"]
        read_only_fields = ("created_at", "updated_at")

    def validate_id(self, value: str) -> str:
        calendar_id = self.context.get("calendar_id")
        if calendar_id is not None and value != calendar_id:
            raise serializers.ValidationError(
                f"The body's id {value!r} differs from the URL's {calendar_id!r}."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        attrs.pop("id", None)
        return attrs


class CalendarInUseSerializer(serializers.Serializer):
    """The 409 of deleting a calendar that jobs name: nothing is deleted."""

    detail = serializers.CharField()
    jobs = serializers.ListField(child=serializers.CharField(), help_text="The jobs that name the calendar.")


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


# -- backfill (docs/scheduling.rst, "Backfill") ------------------------------------------------------


class BackfillSerializer(serializers.Serializer):
    """The body of ``POST jobs/{id}/backfill``: the range of past fire times to run."""

    start = UTCDateTimeField(help_text="The range's first instant (ISO 8601; no offset: UTC), included")
    end = UTCDateTimeField(help_text="The range's last instant, included: after start, not in the future")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """An unknown key is a 400, as in a job's body (a typo must not pass silently)."""
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                known = ", ".join(self.fields)
                raise serializers.ValidationError(
                    {key: [f"Unknown field. Fields: {known}."] for key in unknown}
                )
        return super().to_internal_value(data)


class BackfilledExecutionSerializer(TriggeredExecutionSerializer):
    """One execution a backfill created: its id, its fire time, its URL and whether django-q2 has it."""

    job = None
    scheduled_fire_time = UTCDateTimeField()


class BackfilledSerializer(serializers.Serializer):
    """What a backfill did: the range's fire times, how many executions it created (the others had
    one already) and those executions."""

    job = serializers.CharField(source="job_id")
    start = UTCDateTimeField()
    end = UTCDateTimeField()
    fire_times = serializers.IntegerField(help_text="Fire times of the job's schedule in [start, end].")
    created = serializers.IntegerField(help_text="Executions created: one per fire time that had none.")
    already_recorded = serializers.IntegerField(
        help_text="Fire times that had an execution already (an earlier backfill, or the schedule's)."
    )
    executions = BackfilledExecutionSerializer(many=True, help_text="The executions created, oldest first.")
    executions_url = serializers.SerializerMethodField(
        help_text="The job's executions list, filtered to its backfilled ones."
    )

    @extend_schema_field(OpenApiTypes.URI)
    def get_executions_url(self, backfill: Any) -> str:
        query = {"trigger": Execution.Trigger.BACKFILL}
        return absolute_url(self.context["request"], "job-executions", query, id=backfill.job_id)
