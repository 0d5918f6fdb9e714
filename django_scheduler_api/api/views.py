"""The endpoints of docs/api.rst: thin views that validate, call ``services`` and serialize.

Every view takes its DRF policies from ``SchedulerAPIView`` rather than from the project's
``REST_FRAMEWORK`` setting, so installing the app into a project whose API requires tokens, or renders
XML, changes nothing here. Access control is the job of ``LocalOnlyMiddleware`` (docs/api.rst, "Design
decisions"), which is why no authentication runs (and so DRF enforces no session CSRF).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils import formatting
from rest_framework.views import APIView

from django_scheduler_api import backfill, calendars, services
from django_scheduler_api.api.exceptions import exception_handler
from django_scheduler_api.api.filters import (
    CalendarFilter,
    ExecutionFilter,
    JobExecutionFilter,
    JobFilter,
    QueryFilter,
    QueryFilterBackend,
)
from django_scheduler_api.api.pagination import PAGING_PARAMETERS, SkipTakePagination
from django_scheduler_api.api.parsers import StrictJSONParser
from django_scheduler_api.api.renderers import SchedulerBrowsableAPIRenderer
from django_scheduler_api.api.schema import SchedulerAutoSchema, action_description, document
from django_scheduler_api.api.serializers import (
    BackfilledSerializer,
    BackfillSerializer,
    CalendarInUseSerializer,
    CalendarSerializer,
    DeletedSerializer,
    ExecutionDetailSerializer,
    ExecutionSerializer,
    HandlerSerializer,
    JobSerializer,
    PausedSerializer,
    PreviewQuerySerializer,
    PreviewSerializer,
    ResumedSerializer,
    StatusSerializer,
    TriggeredSerializer,
)
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.models import JOB_ID_PATTERN, Calendar, Execution, Job, job_id_validator
from django_scheduler_api.registry import registry
from django_scheduler_api.validation import spelling_key

PAGING_HEADERS = [
    OpenApiParameter(
        "X-Total-Count", int, OpenApiParameter.HEADER, response=[200], description="All matches"
    ),
    OpenApiParameter("Link", str, OpenApiParameter.HEADER, response=[200], description='rel="next"/"prev"'),
]
JOB_ID = OpenApiParameter(
    "id",
    str,
    OpenApiParameter.PATH,
    description="The job's id",
    pattern=JOB_ID_PATTERN,
    examples=[OpenApiExample("A job id", value="reports.daily")],
)
EXECUTION_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The execution's id"
)
IDS = OpenApiParameter(
    "ids",
    str,
    OpenApiParameter.QUERY,
    description="Job ids separated by , or ; (none: all jobs). Any unknown id: 404, nothing changes.",
    examples=[OpenApiExample("One job", value="reports.daily")],
)
# The preview's expression, with an example so that Swagger UI's pre-filled form works as it stands
# (the serializer's field says "not required": an interval may be given instead).
CRON_EXPRESSION = OpenApiParameter(
    "cron_expression",
    str,
    OpenApiParameter.QUERY,
    description="A Quartz cron expression (or give interval)",
    examples=[OpenApiExample("Weekdays at 10:15", value="0 15 10 ? * MON-FRI")],
)
CALENDAR_ID = OpenApiParameter(
    "id",
    str,
    OpenApiParameter.PATH,
    description="The calendar's id",
    pattern=JOB_ID_PATTERN,
    examples=[OpenApiExample("A calendar id", value="holidays-de")],
)
NEW_CALENDAR = {
    "description": "Public holidays and the office's closing days",
    "dates": ["2026-12-25", "2026-12-26"],
    "date_ranges": [{"start": "2026-12-27", "end": "2026-12-31"}],
    "yearly_dates": ["01-01", "05-01"],
    "cron_expressions": ["* * 0-6 ? * *"],
}
CALENDAR_EXAMPLE = OpenApiExample("Holidays and nights", value=NEW_CALENDAR, request_only=True)
CALENDAR_PATCH_EXAMPLE = OpenApiExample("More dates", value={"dates": ["2027-01-06"]}, request_only=True)
TRIGGER_EXAMPLE = OpenApiExample("Extra data", value={"reason": "re-run after the fix"}, request_only=True)
PATCH_EXAMPLE = OpenApiExample(
    "A new description", value={"description": "The daily report"}, request_only=True
)


def new_job() -> dict[str, Any]:
    """A job body POST accepts as it stands: the browsable API's form and the schema's example."""
    return {
        "handler": next(iter(registry.names()), ""),
        "cron_expression": "0 15 10 ? * MON-FRI",
        "timezone": scheduler_settings.DEFAULT_TIMEZONE,
        "description": "",
        "data": {},
    }


def new_job_example() -> OpenApiExample:
    """The schema's example of a new job, made when the schema is, so it names a registered handler."""
    return OpenApiExample("A weekday job", value=new_job(), request_only=True)


def path_id_error(validate: Any, value: str) -> ValidationError | None:
    """The 400 for a path id that cannot be an id (docs/api.rst: malformed is 400, unknown 404)."""
    try:
        validate(value)
    except (DjangoValidationError, ValueError) as exc:
        messages = exc.messages if isinstance(exc, DjangoValidationError) else ["Must be a valid UUID."]
        return ValidationError({"id": messages})
    return None


class SchedulerAPIView:
    """The DRF policies of every view of this app (a mixin for APIView and the viewsets)."""

    scheduler_api = True  # the schema generator documents the views that carry this mark
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    renderer_classes = [JSONRenderer, SchedulerBrowsableAPIRenderer]
    parser_classes = [StrictJSONParser]  # JSON only: a cross-site HTML form cannot send it
    versioning_class = None
    schema = SchedulerAutoSchema()

    def get_exception_handler(self) -> Any:
        return exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        method = request.method.lower()
        if method != "options" and hasattr(self, method):  # an unsupported method stays a 405
            self.check_url(request, kwargs)

    def check_url(self, request: Request, kwargs: dict[str, Any]) -> None:
        """Raise a 400 for what the URL holds that this view cannot take: unknown query parameters."""
        refuse_unknown_parameters(request, self.query_parameters())

    def query_parameters(self) -> set[str]:
        """The query parameters this view reads; any other is a 400 (a misspelt ``ids`` must not
        silently act on every job)."""
        return set()

    def get_view_description(self, html: bool = False) -> str:
        """For the browsable API: what each method of this URL does, from the handlers' docstrings."""
        actions = getattr(self, "action_map", None) or {
            method: method for method in ("get", "post", "patch", "delete") if hasattr(self, method)
        }
        text = "\n\n".join(
            f"**{method.upper()}**: {action_description(self, action)}"
            for method, action in actions.items()
            if method not in ("head", "options")  # HEAD is GET without a body: saying so twice helps nobody
        )
        return formatting.markup_description(text) if html else text


def json_object(request: Request) -> dict[str, Any]:
    """The body as a dict; a JSON array, string or number is a 400 (docs/api.rst, "Jobs")."""
    data = request.data
    if not isinstance(data, dict):
        raise ParseError(f"The body must be a JSON object, not {type(data).__name__}.")
    return data


def refuse_unknown_parameters(request: Request, known: set[str]) -> None:
    known = {*known, api_settings.URL_FORMAT_OVERRIDE}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        accepted = ", ".join(sorted(known - {None})) or "none"
        raise ValidationError(
            {name: [f"Unknown query parameter. This endpoint takes: {accepted}."] for name in unknown}
        )


def requested_ids(request: Request) -> list[str]:
    """``?ids=a,b;c`` (or repeated ``ids``): trimmed, deduplicated, in request order. Only an absent
    ``ids`` means all jobs: ``ids=`` or ``ids=;`` names none, which is a mistake, not a wildcard."""
    if "ids" not in request.query_params:
        return []
    ids = services.parse_ids(",".join(request.query_params.getlist("ids")))
    if not ids:
        raise ValidationError({"ids": ["Names no job id. Leave ids out to act on all jobs."]})
    return ids


class StatusView(SchedulerAPIView, APIView):
    @document(responses=StatusSerializer, summary="Scheduler status", operation_id="status_retrieve")
    def get(self, request: Request) -> Response:
        """Whether a scheduler process is running, the number of jobs in each state, and links to
        the other endpoints."""
        return Response(StatusSerializer(services.status(), context={"request": request}).data)


class ListView(SchedulerAPIView):
    """A list paged by ``skip``/``take`` and narrowed by the action's ``QueryFilter``."""

    pagination_class = SkipTakePagination
    filter_backends = [QueryFilterBackend]
    query_filters: dict[str, type[QueryFilter]] = {}
    validate_id: Any = None  # raises on a path id that cannot be an id

    def check_url(self, request: Request, kwargs: dict[str, Any]) -> None:
        """A path id that cannot be an id is a 400 naming ``id``, for every method, before anything
        is looked up: a client learns it built a wrong URL, not that something is missing."""
        if "id" in kwargs and self.validate_id is not None:
            error = path_id_error(self.validate_id, kwargs["id"])
            if error is not None:
                raise error
        super().check_url(request, kwargs)

    def get_query_filter(self) -> type[QueryFilter] | None:
        return self.query_filters.get(getattr(self, "action", None) or "")

    def query_parameters(self) -> set[str]:
        """A list's filter and paging parameters; a single object takes none."""
        query_filter = self.get_query_filter()
        return {*query_filter().fields, *PAGING_PARAMETERS} if query_filter else set()


class JobViewSet(ListView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Job.objects.all()
    serializer_class = JobSerializer
    query_filters = {"list": JobFilter, "executions": JobExecutionFilter}
    lookup_url_kwarg = "id"
    id_parameter = JOB_ID
    validate_id = staticmethod(job_id_validator)
    inherited_actions = {
        "list": {
            "summary": "List jobs",
            "description": "Jobs ordered by id, filtered by `state`, `group`, `handler`; paged by "
            "`skip`/`take`.",
            "parameters": [JobFilter, *PAGING_HEADERS],
        },
        "retrieve": {"summary": "Get a job", "description": "The job."},
    }

    def get_queryset(self) -> QuerySet:
        if self.action == "executions":
            return services.job_executions(self.kwargs["id"])
        return super().get_queryset()

    def get_serializer_class(self) -> type[JobSerializer] | type[ExecutionSerializer]:
        return ExecutionSerializer if self.action == "executions" else JobSerializer

    def get_object(self) -> Job:
        return services.get_job(self.kwargs["id"])

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "job_id": self.kwargs.get("id")}

    def raw_data_example(self, method: str) -> dict[str, Any] | None:
        """The browsable API's JSON form: the job's writable fields, or a job that can be posted."""
        if "id" not in self.kwargs or method not in ("POST", "PATCH"):
            return None
        try:
            job = services.get_job(self.kwargs["id"])
        except services.NoSuchJob:
            return new_job()
        serializer = self.get_serializer(job)
        writable = [name for name, field in serializer.fields.items() if not field.read_only]
        return {name: serializer.data[name] for name in writable if name != "id"}

    @document(
        summary="Add or replace a job",
        request=JobSerializer,
        responses=JobSerializer,
        examples=[new_job_example],
    )
    def replace(self, request: Request, id: str) -> Response:
        """Add the job, or replace it whole: omitted fields take their defaults. `handler` is
        required; send `application/json`. The time of the next fire moves only when a schedule
        field (cron, zone, start, end, state) changes."""
        return self._save(request, id, partial=False)

    @document(
        summary="Change fields of a job",
        request=JobSerializer,
        responses=JobSerializer,
        examples=[PATCH_EXAMPLE],
    )
    def partial_update(self, request: Request, id: str) -> Response:
        """Change only the fields sent."""
        return self._save(request, id, partial=True)

    @document(summary="Delete a job", responses=DeletedSerializer)
    def destroy(self, request: Request, id: str) -> Response:
        """Delete the job and cancel its queued executions; its history stays readable."""
        services.delete_job(id)
        return Response({"id": id, "deleted": True})

    @document(
        summary="List a job's executions",
        parameters=[JobExecutionFilter, *PAGING_HEADERS],
        responses=ExecutionSerializer(many=True),
    )
    def executions(self, request: Request, id: str) -> Response:
        """The job's executions, newest first (also after the job was deleted)."""
        return self.list(request)

    def _save(self, request: Request, job_id: str, *, partial: bool) -> Response:
        body = json_object(request)
        instance = self.get_object() if partial else None
        serializer = self.get_serializer(instance, data=body, partial=partial)
        serializer.is_valid(raise_exception=True)
        job, _created = services.save_job(job_id, serializer.validated_data, partial=partial)
        return Response(self.get_serializer(job).data)


class CalendarViewSet(ListView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Calendar.objects.all()
    serializer_class = CalendarSerializer
    query_filters = {"list": CalendarFilter}
    lookup_url_kwarg = "id"
    id_parameter = CALENDAR_ID
    validate_id = staticmethod(job_id_validator)

    def get_queryset(self) -> QuerySet:
        return calendars.list_calendars()

    def get_object(self) -> Calendar:
        return calendars.get_calendar(self.kwargs["id"])

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "calendar_id": self.kwargs.get("id")}

    def raw_data_example(self, method: str) -> dict[str, Any] | None:
        """The browsable API's JSON form: the calendar's writable fields, or an example."""
        if "id" not in self.kwargs or method not in ("POST", "PATCH"):
            return None
        try:
            calendar = calendars.get_calendar(self.kwargs["id"])
        except calendars.NoSuchCalendar:
            return NEW_CALENDAR
        data = self.get_serializer(calendar).data
        return {name: data[name] for name in calendars.CALENDAR_FIELDS if name != "id"}

    @document(summary="List calendars", parameters=PAGING_HEADERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Calendars ordered by id; paged by `skip`/`take`."""
        return super().list(request, *args, **kwargs)

    @document(summary="Get a calendar")
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The calendar."""
        return super().retrieve(request, *args, **kwargs)

    @document(
        summary="Add or replace a calendar",
        request=CalendarSerializer,
        responses=CalendarSerializer,
        examples=[CALENDAR_EXAMPLE],
    )
    def replace(self, request: Request, id: str) -> Response:
        """Add the calendar, or replace it whole: omitted fields are empty. The jobs that name it
        get their next fire recomputed; a change that would leave one without any fire is refused."""
        return self._save(request, id, partial=False)

    @document(
        summary="Change fields of a calendar",
        request=CalendarSerializer,
        responses=CalendarSerializer,
        examples=[CALENDAR_PATCH_EXAMPLE],
    )
    def partial_update(self, request: Request, id: str) -> Response:
        """Change only the fields sent (a list sent replaces the stored list)."""
        return self._save(request, id, partial=True)

    @document(
        summary="Delete a calendar", responses={"200": DeletedSerializer, "409": CalendarInUseSerializer}
    )
    def destroy(self, request: Request, id: str) -> Response:
        """Delete the calendar. Refused with 409, listing them, while jobs name it."""
        calendars.delete_calendar(id)
        return Response({"id": id, "deleted": True})

    def _save(self, request: Request, calendar_id: str, *, partial: bool) -> Response:
        body = json_object(request)
        instance = self.get_object() if partial else None
        serializer = self.get_serializer(instance, data=body, partial=partial)
        serializer.is_valid(raise_exception=True)
        calendar, _created = calendars.save_calendar(calendar_id, serializer.validated_data, partial=partial)
        return Response(self.get_serializer(calendar).data)


class ExecutionViewSet(ListView, viewsets.ReadOnlyModelViewSet):
    queryset = Execution.objects.all()
    serializer_class = ExecutionSerializer
    query_filters = {"list": ExecutionFilter}
    lookup_url_kwarg = "id"
    id_parameter = EXECUTION_ID
    validate_id = staticmethod(uuid.UUID)
    inherited_actions = {
        "list": {
            "summary": "List executions",
            "description": "Executions of all jobs, newest first, filtered by `job` and `status`.",
            "parameters": [ExecutionFilter, *PAGING_HEADERS],
        },
        "retrieve": {
            "summary": "Get an execution",
            "description": "One execution: its status, times, data, result, error and traceback.",
        },
    }

    def get_serializer_class(self) -> type[ExecutionSerializer]:
        return ExecutionDetailSerializer if self.action == "retrieve" else ExecutionSerializer

    def get_object(self) -> Execution:
        return services.get_execution(self.kwargs["id"])


class HandlerListView(SchedulerAPIView, APIView):
    @document(summary="List handlers", responses=HandlerSerializer(many=True))
    def get(self, request: Request) -> Response:
        """The registered handlers a job can name, with the first line of their docstrings."""
        return Response(HandlerSerializer(list(registry), many=True, context={"request": request}).data)


class PreviewView(SchedulerAPIView, APIView):
    def query_parameters(self) -> set[str]:
        return set(PreviewQuerySerializer().fields)

    @document(
        summary="Preview fire times",
        parameters=[PreviewQuerySerializer, CRON_EXPRESSION],
        responses=PreviewSerializer,
    )
    def get(self, request: Request) -> Response:
        """The next `count` fire times of a cron expression in a zone, or of an interval (`interval`,
        `interval_anchor`, `repeat_count`), strictly after `after`, without the times the calendars
        `calendar` exclude."""
        query = PreviewQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        return Response(PreviewSerializer(services.preview(**query.validated_data)).data)


# Body keys that name jobs. The jobs of pause, resume and trigger are chosen by the query's ``ids``
# only; such a key in a body is a client that put its ids in the wrong place, and reading the body
# as "no ids" would act on every job (issue 21, D2). Compared as ``spelling_key`` compares keys.
SELECTING_KEYS = frozenset({"ids", "id", "jobs", "job", "jobids", "jobid"})


class JobActionView(SchedulerAPIView, APIView):
    """Pause, resume and trigger: one operation over ``?ids=``, all or nothing.

    A body never widens the selection: pause and resume take none (any key is a 400), and a trigger
    body that names jobs without an ``ids`` query is a 400 (docs/api.rst, "Pause, resume, trigger")."""

    may_not_find = True

    def query_parameters(self) -> set[str]:
        return {"ids"}

    def no_body(self, request: Request) -> None:
        """Refuse any key of a body (pause and resume take none; ``{}`` and no body are alike)."""
        body = json_object(request)
        if body:
            message = "This endpoint takes no body: send the job ids in the query, ?ids=a,b (none: all jobs)."
            raise ValidationError({key: [message] for key in body})

    def trigger_body(self, request: Request) -> dict[str, Any]:
        """The trigger's data; a key naming jobs without an ``ids`` query is refused (it would fire
        every planned job with the ids merged into their data)."""
        body = json_object(request)
        if "ids" not in request.query_params:
            selecting = [key for key in body if spelling_key(key) in SELECTING_KEYS]
            if selecting:
                message = (
                    "Job ids go in the query (?ids=a,b), not in the body; without ids the trigger runs "
                    "every planned job. Send ?ids= to keep this key as data."
                )
                raise ValidationError({key: [message] for key in selecting})
        return body


class PauseView(JobActionView):
    @document(summary="Pause jobs", request=None, parameters=[IDS], responses=PausedSerializer)
    def post(self, request: Request) -> Response:
        """Pause the jobs `ids` (none: all jobs). Fires missed while paused follow each job's
        misfire policy on resume."""
        self.no_body(request)
        return Response({"paused": services.pause_jobs(requested_ids(request))})


class ResumeView(JobActionView):
    @document(summary="Resume jobs", request=None, parameters=[IDS], responses=ResumedSerializer)
    def post(self, request: Request) -> Response:
        """Resume the jobs `ids` (none: all jobs)."""
        self.no_body(request)
        return Response({"resumed": services.resume_jobs(requested_ids(request))})


class TriggerView(JobActionView):
    @document(
        summary="Run jobs now",
        request=OpenApiTypes.OBJECT,
        parameters=[IDS],
        responses=TriggeredSerializer,
        examples=[TRIGGER_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        """Run the jobs `ids` now, outside their schedule, paused ones too (none: all planned jobs).
        The body (a JSON object, optional) is merged over each job's data."""
        executions = services.trigger_jobs(requested_ids(request), self.trigger_body(request))
        triggered = TriggeredSerializer({"triggered": executions}, context={"request": request})
        return Response(triggered.data)


def last_week() -> dict[str, str]:
    """Last week, Monday 00:00 to Sunday 23:59:59 UTC: a past range for the forms and the schema."""
    today = datetime.now(UTC).date()
    monday = datetime.combine(today - timedelta(days=today.weekday() + 7), time(), tzinfo=UTC)
    sunday_night = monday + timedelta(days=7, seconds=-1)
    return {
        "start": monday.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": sunday_night.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def backfill_example() -> OpenApiExample:
    """The schema's example of a backfill, made when the schema is (so that the range is past)."""
    return OpenApiExample("Last week", value=last_week(), request_only=True)


class BackfillView(SchedulerAPIView, APIView):
    """Run the fires of a job's schedule in a past range (docs/scheduling.rst, "Backfill")."""

    may_not_find = True
    id_parameter = JOB_ID

    def check_url(self, request: Request, kwargs: dict[str, Any]) -> None:
        """A path id that cannot be an id is a 400 naming ``id``, as on ``jobs/{id}``."""
        error = path_id_error(job_id_validator, kwargs["id"])
        if error is not None:
            raise error
        super().check_url(request, kwargs)

    def raw_data_example(self, method: str) -> dict[str, Any] | None:
        """The browsable API's JSON form: last week."""
        return last_week() if method == "POST" else None

    @document(
        summary="Backfill a job",
        request=BackfillSerializer,
        responses=BackfilledSerializer,
        examples=[backfill_example],
    )
    def post(self, request: Request, id: str) -> Response:
        """One `backfill` execution per fire time of the job's schedule in [`start`, `end`] that has
        no execution yet, sent to the workers: a second backfill of the range creates nothing. The
        range must be past and hold at most `BACKFILL_LIMIT` fire times; paused jobs too."""
        body = BackfillSerializer(data=json_object(request))
        body.is_valid(raise_exception=True)
        done = backfill.backfill(id, **body.validated_data)
        return Response(BackfilledSerializer(done, context={"request": request}).data)
