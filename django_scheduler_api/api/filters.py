"""Validated list filters: ``state``/``group``/``handler`` on jobs, ``job``/``status``/``trigger`` on
executions.

A filter value that cannot match (an unknown state) is a 400 naming it rather than an empty list, so
a typo in a script is found at once. Each filter is a serializer of the query parameters it reads
(so the schema documents them) and hands its validated values to the ``services`` function that
narrows the list; ``QueryFilterBackend`` applies the view's filter as a DRF filter backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request

from django_scheduler_api import services
from django_scheduler_api.models import Execution, Job, group_validator, job_id_validator
from django_scheduler_api.validation import LenientChoiceField, validate_handler_name


class QueryFilter(serializers.Serializer):
    """Query parameters that narrow a list; ``narrow`` is the ``services`` function applying them."""

    narrow: ClassVar[Callable[..., QuerySet]]

    @classmethod
    def apply(cls, queryset: QuerySet, params: Mapping[str, Any]) -> QuerySet:
        """``queryset`` narrowed by the parameters this filter declares; a 400 for invalid ones."""
        query = cls(data={name: params[name] for name in cls().fields if name in params})
        query.is_valid(raise_exception=True)
        return cls.narrow(queryset, **query.validated_data)


class JobFilter(QueryFilter):
    state = LenientChoiceField(Job.State, required=False, help_text="planned or paused, any case")
    group = serializers.CharField(
        required=False,
        trim_whitespace=False,
        validators=[group_validator],
        help_text="Only jobs of this group",
    )
    handler = serializers.CharField(
        required=False,
        trim_whitespace=False,
        validators=[validate_handler_name],
        help_text="Only jobs run by this handler",
    )

    narrow = staticmethod(services.filter_jobs)


TRIGGER_HELP = "schedule, manual, misfire, backfill or retry"


class ExecutionFilter(QueryFilter):
    job = serializers.CharField(
        required=False,
        trim_whitespace=False,
        validators=[job_id_validator],
        help_text="Only executions of this job id",
    )
    status = LenientChoiceField(Execution.Status, required=False, help_text="queued, running, ...")
    trigger = LenientChoiceField(Execution.Trigger, required=False, help_text=TRIGGER_HELP)

    narrow = staticmethod(services.filter_executions)


class JobExecutionFilter(QueryFilter):
    status = LenientChoiceField(Execution.Status, required=False, help_text="queued, running, ...")
    trigger = LenientChoiceField(Execution.Trigger, required=False, help_text=TRIGGER_HELP)

    narrow = staticmethod(services.filter_executions)


class CalendarFilter(QueryFilter):
    """Calendars have no filter of their own: only the paging parameters."""

    narrow = staticmethod(lambda queryset: queryset)


class QueryFilterBackend(BaseFilterBackend):
    """Applies the ``QueryFilter`` a view names for its current action (``get_query_filter``).

    The schema takes the parameters from the filter classes the views document, so this backend
    adds none of its own.
    """

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        query_filter = view.get_query_filter()
        return queryset if query_filter is None else query_filter.apply(queryset, request.query_params)
