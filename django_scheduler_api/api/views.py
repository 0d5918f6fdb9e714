"""The endpoints of SPEC §2: thin views that validate, call ``services`` and serialize.

Every view takes its DRF policies from ``SchedulerAPIView`` rather than from the project's
``REST_FRAMEWORK`` setting, so installing the app into a project whose API requires tokens, or renders
XML, changes nothing here. Access control is the job of ``LocalOnlyMiddleware`` (SPEC §3), which is
why no authentication runs (and so DRF enforces no session CSRF: see docs/api.rst).
"""

from __future__ import annotations

import uuid
from itertools import islice
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Min
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import viewsets
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils import formatting
from rest_framework.views import APIView

from django_scheduler_api import services
from django_scheduler_api.api.exceptions import exception_handler
from django_scheduler_api.api.filters import (
    ExecutionFilterSerializer,
    JobExecutionFilterSerializer,
    JobFilterSerializer,
    filter_queryset,
)
from django_scheduler_api.api.links import absolute_url
from django_scheduler_api.api.pagination import SkipTakePagination
from django_scheduler_api.api.renderers import SchedulerBrowsableAPIRenderer
from django_scheduler_api.api.schema import SchedulerAutoSchema, document
from django_scheduler_api.api.serializers import (
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
    job_id_field_validator,
    jobs_link,
)
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.cron import describe
from django_scheduler_api.models import JOB_ID_PATTERN, Execution, Job, is_job_id
from django_scheduler_api.planning import parse_cron
from django_scheduler_api.registry import registry

PAGING_HEADERS = [
    OpenApiParameter(
        "X-Total-Count", int, OpenApiParameter.HEADER, response=[200], description="All matches"
    ),
    OpenApiParameter("Link", str, OpenApiParameter.HEADER, response=[200], description='rel="next"/"prev"'),
]
JOB_ID = OpenApiParameter(
    "id", str, OpenApiParameter.PATH, description="The job's id", pattern=JOB_ID_PATTERN
)
EXECUTION_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The execution's id"
)
IDS = OpenApiParameter(
    "ids",
    str,
    OpenApiParameter.QUERY,
    description="Job ids separated by , or ; (none: all jobs). Any unknown id: 404, nothing changes.",
)


class SchedulerAPIView:
    """The DRF policies of every view of this app (a mixin for APIView and the viewsets)."""

    scheduler_api = True  # the schema generator documents the views that carry this mark
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    renderer_classes = [JSONRenderer, SchedulerBrowsableAPIRenderer]
    parser_classes = [JSONParser]  # JSON only: a cross-site HTML form cannot send it
    versioning_class = None
    schema = SchedulerAutoSchema()

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get_view_description(self, html: bool = False) -> str:
        """For the browsable API: what each method of this URL does, from the handlers' docstrings."""
        actions = getattr(self, "action_map", None) or {
            method: method for method in ("get", "post", "patch", "delete") if hasattr(self, method)
        }
        text = "\n\n".join(
            f"**{method.upper()}**: {formatting.dedent(getattr(self, action).__doc__ or '')}"
            for method, action in actions.items()
            if method not in ("head", "options")  # HEAD is GET without a body: saying so twice helps nobody
        )
        return formatting.markup_description(text) if html else text


def json_object(request: Request) -> dict[str, Any]:
    """The body as a dict; a JSON array, string or number is a 400 (SPEC §2)."""
    data = request.data
    if not isinstance(data, dict):
        raise ParseError(f"The body must be a JSON object, not {type(data).__name__}.")
    return data


def requested_ids(request: Request) -> list[str]:
    """``?ids=a,b;c`` (or repeated ``ids``): trimmed, deduplicated, in request order."""
    return services.parse_ids(",".join(request.query_params.getlist("ids")))


class StatusView(SchedulerAPIView, APIView):
    @document(responses=StatusSerializer)
    def get(self, request: Request) -> Response:
        """Whether a scheduler process is running, and the number of jobs in each state."""
        counts = dict(Job.objects.order_by().values_list("state").annotate(n=Count("id")))
        nodes = services.live_nodes()
        next_fire = Job.objects.filter(state=Job.State.PLANNED).aggregate(at=Min("next_fire_time"))["at"]
        status = {
            "is_started": bool(nodes),
            "all": {"count": sum(counts.values()), "url": jobs_link(request, {})},
            **{
                state: {"count": counts.get(state, 0), "url": jobs_link(request, {"state": state})}
                for state in Job.State.values
            },
            "next_fire_time": next_fire,
            "nodes": nodes,
        }
        return Response(StatusSerializer(status).data)


class JobViewSet(SchedulerAPIView, viewsets.GenericViewSet):
    queryset = Job.objects.all()
    serializer_class = JobSerializer
    pagination_class = SkipTakePagination
    lookup_url_kwarg = "id"
    id_parameter = JOB_ID

    def get_object(self) -> Job:
        job = self.find_job()
        if job is None:
            raise NotFound(f"No job with id {self.kwargs['id']!r}.")
        return job

    def find_job(self) -> Job | None:
        """The job of the URL, if any; a text that cannot be an id (``%00``) is not looked up."""
        job_id = self.kwargs["id"]
        return Job.objects.filter(pk=job_id).first() if is_job_id(job_id) else None

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "job_id": self.kwargs.get("id")}

    def raw_data_example(self, method: str) -> dict[str, Any] | None:
        """The browsable API's JSON form: the job's writable fields, or a job that can be posted."""
        if "id" not in self.kwargs or method not in ("POST", "PATCH"):
            return None
        job = self.find_job()
        if job is None:
            return {
                "handler": next(iter(registry.names()), ""),
                "cron_expression": "0 0 12 ? * MON-FRI",
                "timezone": scheduler_settings.DEFAULT_TIMEZONE,
                "description": "",
                "data": {},
            }
        serializer = self.get_serializer(job)
        writable = [name for name, field in serializer.fields.items() if not field.read_only]
        return {name: serializer.data[name] for name in writable if name != "id"}

    @document(parameters=[JobFilterSerializer, *PAGING_HEADERS])
    def list(self, request: Request) -> Response:
        """Jobs ordered by id, filtered by `state`, `group`, `handler`; paged by `skip`/`take`."""
        jobs = filter_queryset(self.get_queryset(), request.query_params, JobFilterSerializer)
        page = self.paginate_queryset(jobs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        """The job."""
        return Response(self.get_serializer(self.get_object()).data)

    @document(request=JobSerializer, responses=JobSerializer)
    def replace(self, request: Request, id: str) -> Response:
        """Add the job, or replace it whole: omitted fields take their defaults. `handler` is
        required; send `application/json`. The time of the next fire moves only when a schedule
        field (cron, zone, start, end, state) changes."""
        return self._save(request, id, partial=False)

    @document(request=JobSerializer, responses=JobSerializer)
    def partial_update(self, request: Request, id: str) -> Response:
        """Change only the fields sent."""
        return self._save(request, id, partial=True)

    @document(responses=DeletedSerializer)
    def destroy(self, request: Request, id: str) -> Response:
        """Delete the job and cancel its queued executions; its history stays readable."""
        services.delete_job(id)
        return Response({"id": id, "deleted": True})

    @document(
        parameters=[JobExecutionFilterSerializer, *PAGING_HEADERS], responses=ExecutionSerializer(many=True)
    )
    def executions(self, request: Request, id: str) -> Response:
        """The job's executions, newest first (also after the job was deleted)."""
        executions = Execution.objects.filter(job_id=id)
        if not is_job_id(id) or (not executions.exists() and not Job.objects.filter(pk=id).exists()):
            raise NotFound(f"No job with id {id!r}.")
        executions = filter_queryset(executions, request.query_params, JobExecutionFilterSerializer)
        page = self.paginate_queryset(executions)
        return self.get_paginated_response(
            ExecutionSerializer(page, many=True, context={"request": request}).data
        )

    def _save(self, request: Request, job_id: str, *, partial: bool) -> Response:
        body = json_object(request)
        try:
            job_id_field_validator(job_id)
        except DjangoValidationError as exc:
            raise ValidationError({"id": exc.messages}) from None
        instance = self.get_object() if partial else None
        serializer = self.get_serializer(instance, data=body, partial=partial)
        serializer.is_valid(raise_exception=True)
        job, _created = services.save_job(job_id, serializer.validated_data, partial=partial)
        return Response(self.get_serializer(job).data)


class ExecutionViewSet(SchedulerAPIView, viewsets.ReadOnlyModelViewSet):
    queryset = Execution.objects.all()
    serializer_class = ExecutionSerializer
    pagination_class = SkipTakePagination
    lookup_url_kwarg = "id"
    id_parameter = EXECUTION_ID

    def get_serializer_class(self) -> type[ExecutionSerializer]:
        return ExecutionDetailSerializer if self.action == "retrieve" else ExecutionSerializer

    def get_object(self) -> Execution:
        try:
            pk = uuid.UUID(self.kwargs["id"])
        except ValueError:
            pk = None
        execution = Execution.objects.filter(pk=pk).first() if pk else None
        if execution is None:
            raise NotFound(f"No execution with id {self.kwargs['id']!r}.")
        return execution

    @document(parameters=[ExecutionFilterSerializer, *PAGING_HEADERS])
    def list(self, request: Request) -> Response:
        """Executions of all jobs, newest first, filtered by `job` and `status`."""
        executions = filter_queryset(self.get_queryset(), request.query_params, ExecutionFilterSerializer)
        page = self.paginate_queryset(executions)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, id: str) -> Response:
        """One execution: its status, times, data, result, error and traceback."""
        return Response(self.get_serializer(self.get_object()).data)


class HandlerListView(SchedulerAPIView, APIView):
    @document(responses=HandlerSerializer(many=True))
    def get(self, request: Request) -> Response:
        """The registered handlers a job can name, with the first line of their docstrings."""
        return Response(HandlerSerializer(list(registry), many=True, context={"request": request}).data)


class PreviewView(SchedulerAPIView, APIView):
    @document(parameters=[PreviewQuerySerializer], responses=PreviewSerializer)
    def get(self, request: Request) -> Response:
        """The next `count` fire times of a cron expression in a zone, strictly after `after`."""
        query = PreviewQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        expression = query.validated_data["cron_expression"]
        zone = query.validated_data.get("timezone", scheduler_settings.DEFAULT_TIMEZONE)
        after = query.validated_data.get("after") or timezone.now()
        times = islice(parse_cron(expression).fire_times(after, zone), query.validated_data["count"])
        preview = {
            "cron_expression": expression,
            "description": describe(expression),
            "timezone": zone,
            "fire_times": list(times),
        }
        return Response(PreviewSerializer(preview).data)


class JobActionView(SchedulerAPIView, APIView):
    """Pause, resume and trigger: one operation over ``?ids=``, all or nothing."""

    may_not_find = True


class PauseView(JobActionView):
    @document(request=None, parameters=[IDS], responses=PausedSerializer)
    def post(self, request: Request) -> Response:
        """Pause the jobs `ids` (none: all jobs). Fires missed while paused follow each job's
        misfire policy on resume."""
        return Response({"paused": services.pause_jobs(requested_ids(request))})


class ResumeView(JobActionView):
    @document(request=None, parameters=[IDS], responses=ResumedSerializer)
    def post(self, request: Request) -> Response:
        """Resume the jobs `ids` (none: all jobs)."""
        return Response({"resumed": services.resume_jobs(requested_ids(request))})


class TriggerView(JobActionView):
    @document(request=OpenApiTypes.OBJECT, parameters=[IDS], responses=TriggeredSerializer)
    def post(self, request: Request) -> Response:
        """Run the jobs `ids` now, outside their schedule, paused ones too (none: all planned jobs).
        The body (a JSON object, optional) is merged over each job's data."""
        executions = services.trigger_jobs(requested_ids(request), json_object(request))
        triggered = [
            {
                "job": execution.job_id,
                "execution": execution.id,
                "url": absolute_url(request, "execution-detail", id=execution.id),
            }
            for execution in executions
        ]
        return Response(TriggeredSerializer({"triggered": triggered}).data)
