"""The OpenAPI 3 schema of the API (drf-spectacular) and a Swagger UI that needs no internet.

Neither ``drf_spectacular`` nor ``drf_spectacular_sidecar`` has to be in ``INSTALLED_APPS``: the
schema view carries its own settings (``SPECTACULAR_SETTINGS`` of the project are not needed and not
changed), the Swagger page is this app's template, and its three asset files are served by this app
straight from the sidecar package, so the page works with ``DEBUG = False`` and without
``collectstatic`` on a machine without internet access.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

import drf_spectacular_sidecar
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

import django_scheduler_api
from django_scheduler_api.api.links import absolute_url
from django_scheduler_api.api.serializers import ErrorSerializer, UnknownJobsSerializer

SWAGGER_DIR = Path(drf_spectacular_sidecar.__file__).parent / "static/drf_spectacular_sidecar/swagger-ui-dist"
SWAGGER_ASSETS = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"}
)

# Free-form because a 400 is either {"detail": "..."} or field errors {"field": ["message"]}.
ERROR_400 = {
    "type": "object",
    "description": '{"detail": "..."} or field errors {"field": ["message", ...]}',
    "additionalProperties": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Scheduler API",
    "DESCRIPTION": (
        "Jobs with Quartz cron schedules, run by registered handlers on django-q2 workers. "
        "Available from the local host only."
    ),
    "VERSION": django_scheduler_api.__version__,
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["django_scheduler_api.api.schema.only_this_app"],
    "ENUM_NAME_OVERRIDES": {
        "JobStateEnum": "django_scheduler_api.models.Job.State",
        "MisfirePolicyEnum": "django_scheduler_api.models.Job.MisfirePolicy",
        "OverlapPolicyEnum": "django_scheduler_api.models.Job.OverlapPolicy",
        "ExecutionStatusEnum": "django_scheduler_api.models.Execution.Status",
        "ExecutionTriggerEnum": "django_scheduler_api.models.Execution.Trigger",
    },
}


def document(**info: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Describe a view method for the schema: ``request``, ``responses``, ``parameters``.

    drf-spectacular's own ``@extend_schema`` builds on the project's ``DEFAULT_SCHEMA_CLASS``, which a
    reusable app cannot require; this records the same facts for ``SchedulerAutoSchema`` to read.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func.api_schema = info  # type: ignore[attr-defined]
        return func

    return decorate


class SchedulerAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, reading ``@document`` and documenting the errors every
    operation can answer.

    A client generated from the schema (or schemathesis checking answers against it) then knows the
    403 of the local-only guard, the 413/415 of a write and the 404 of an unknown id.
    """

    def documented(self) -> dict[str, Any]:
        """What ``@document`` recorded on the view method of this operation."""
        name = getattr(self.view, "action", None) or self.method.lower()
        return getattr(getattr(self.view, name, None), "api_schema", {})

    def get_override_parameters(self) -> list[Any]:
        """The documented parameters, plus the view's ``id_parameter`` on paths with an ``{id}``."""
        parameters = [*super().get_override_parameters(), *self.documented().get("parameters", [])]
        id_parameter = getattr(self.view, "id_parameter", None)
        if id_parameter is not None and "{id}" in self.path:
            parameters.append(id_parameter)
        return parameters

    def get_request_serializer(self) -> Any:
        info = self.documented()
        return info["request"] if "request" in info else super().get_request_serializer()

    def get_response_serializers(self) -> dict[str, Any]:
        """The documented answer (as the 200: this API answers 200 to every success, a DELETE and
        a creating POST included), then the errors of ``error_responses`` it does not name."""
        info = self.documented()
        responses = info["responses"] if "responses" in info else super().get_response_serializers()
        if not isinstance(responses, dict):
            responses = {"200": responses}
        responses = {str(code): answer for code, answer in responses.items()}
        return {**responses, **{c: e for c, e in self.error_responses().items() if c not in responses}}

    def error_responses(self) -> dict[str, Any]:
        """The errors this operation can answer (docs/api.rst, "Status codes")."""
        errors: dict[str, Any] = {"400": ERROR_400, "403": ErrorSerializer, "406": ErrorSerializer}
        if getattr(self.view, "may_not_find", False):
            errors["404"] = UnknownJobsSerializer
        elif "{" in self.path:
            errors["404"] = ErrorSerializer
        if self.method in ("POST", "PUT", "PATCH"):
            errors["413"] = ErrorSerializer
            errors["415"] = ErrorSerializer
        return errors


def only_this_app(endpoints: list[tuple[str, str, str, Any]]) -> list[tuple[str, str, str, Any]]:
    """drf-spectacular's preprocessing hook: this app's endpoints only (the project may have other
    DRF views), each under its canonical path, without the optional trailing slash."""
    return [
        (path.rstrip("/") or "/", regex, method, callback)
        for path, regex, method, callback in endpoints
        if getattr(getattr(callback, "cls", None), "scheduler_api", False)
    ]


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema of this API: JSON by default, YAML with ``?format=yaml``."""

    renderer_classes = [OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer, OpenApiYamlRenderer2]
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    custom_settings = SPECTACULAR_SETTINGS
    serve_public = True


def swagger_ui(request: HttpRequest) -> HttpResponse:
    """The Swagger UI page for the schema, its script and styles served by this app."""
    context = {
        "title": SPECTACULAR_SETTINGS["TITLE"],
        "schema_url": absolute_url(request, "schema"),
        "assets": {
            name.split(".")[0].replace("-", "_"): absolute_url(request, "swagger-asset", name=name)
            for name in SWAGGER_ASSETS
        },
    }
    return TemplateResponse(request, "django_scheduler_api/swagger_ui.html", context)


def swagger_asset(request: HttpRequest, name: str) -> HttpResponse:
    """One of the few Swagger UI files, from the sidecar package; nothing else can be named."""
    if name not in SWAGGER_ASSETS:
        return JsonResponse({"detail": f"No such asset: {name}"}, status=404)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse((SWAGGER_DIR / name).open("rb"), content_type=content_type)
    response["Cache-Control"] = "max-age=86400"
    return response
