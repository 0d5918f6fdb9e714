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
    elif response is not None and isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {field: messages(errors) for field, errors in response.data.items()}
    return response


def messages(errors: Any) -> list[str]:
    """A field's errors as the flat list of strings ``FieldErrors`` promises: DRF nests the errors
    of a list's items by position (``{"calendars": {"0": [...]}}``) and of a nested object by key;
    they become ``"0: message"`` and ``"0: start: message"`` (issue 21, D5)."""
    if isinstance(errors, dict):
        return [f"{key}: {message}" for key, value in errors.items() for message in messages(value)]
    if isinstance(errors, list):
        return [message for item in errors for message in messages(item)]
    return [str(errors)]


def _field_errors(exc: DjangoValidationError) -> dict[str, Any]:
    detail = refusal_detail(exc)
    return detail if isinstance(detail, dict) else {"detail": " ".join(detail)}


@csrf_exempt  # like the API's views: a write to an unknown path is a JSON 404, not the CSRF page
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any unknown path under the app's prefix: a JSON 404, not Django's HTML page or a redirect."""
    return JsonResponse({"detail": f"No such endpoint: {request.path}"}, status=404)
