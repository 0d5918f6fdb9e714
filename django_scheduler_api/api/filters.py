"""Validated list filters: ``state``/``group``/``handler`` on jobs, ``job``/``status`` on executions.

A filter value that cannot match (an unknown state) is a 400 naming it rather than an empty list, so
a typo in a script is found at once.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from django_scheduler_api.api.fields import LenientChoiceField
from django_scheduler_api.models import Execution, Job


class JobFilterSerializer(serializers.Serializer):
    state = LenientChoiceField(Job.State, required=False, help_text="planned or paused, any case")
    group = serializers.CharField(required=False, help_text="Only jobs of this group")
    handler = serializers.CharField(required=False, help_text="Only jobs run by this handler")


class ExecutionFilterSerializer(serializers.Serializer):
    job = serializers.CharField(required=False, help_text="Only executions of this job id")
    status = LenientChoiceField(Execution.Status, required=False, help_text="queued, running, ...")


class JobExecutionFilterSerializer(serializers.Serializer):
    status = LenientChoiceField(Execution.Status, required=False, help_text="queued, running, ...")


def filter_queryset(
    queryset: QuerySet, params: Any, serializer_class: type[serializers.Serializer]
) -> QuerySet:
    """``queryset`` narrowed by the validated query parameters that ``serializer_class`` declares."""
    names = serializer_class().fields
    query = serializer_class(data={name: params[name] for name in names if name in params})
    query.is_valid(raise_exception=True)
    lookups = {("job_id" if name == "job" else name): value for name, value in query.validated_data.items()}
    return queryset.filter(**lookups)
