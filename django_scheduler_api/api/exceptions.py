"""Every error as JSON (docs/api.rst, "Status codes"): ``{"detail": ...}``, or field errors
``{"field": [...]}`` for 400."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from django_scheduler_api.calendars import CalendarInUse, NoSuchCalendar
from django_scheduler_api.planning import ExcludedEverything
from django_scheduler_api.services import NoSuchExecution, NoSuchJob, UnknownJobs
from django_scheduler_api.validation import refusal_detail


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus: unknown job ids are a 404 listing them, an unknown job, execution or
    calendar a 404 naming it, a calendar in use a 409 listing its jobs, a rule a write checks in its
    transaction a 400; a bare list becomes a detail."""
    if isinstance(exc, UnknownJobs):
        return Response({"detail": str(exc), "unknown_ids": exc.ids}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, NoSuchJob | NoSuchExecution | NoSuchCalendar):
        return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, CalendarInUse):
        return Response({"detail": str(exc), "jobs": exc.jobs}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ExcludedEverything):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):  # a rule checked in the write's transaction (services)
        return Response(_field_errors(exc), status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        response.data = {"detail": " ".join(str(item) for item in response.data)}
    return response


def _field_errors(exc: DjangoValidationError) -> dict[str, Any]:
    detail = refusal_detail(exc)
    return detail if isinstance(detail, dict) else {"detail": " ".join(detail)}


@csrf_exempt  # like the API's views: a write to an unknown path is a JSON 404, not the CSRF page
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any unknown path under the app's prefix: a JSON 404, not Django's HTML page or a redirect."""
    return JsonResponse({"detail": f"No such endpoint: {request.path}"}, status=404)
