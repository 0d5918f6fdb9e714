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
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny
from rest_framework.utils import formatting

import django_scheduler_api
from django_scheduler_api.api.links import absolute_url
from django_scheduler_api.api.serializers import ErrorSerializer, FieldErrorsSerializer
from django_scheduler_api.validation import LenientChoiceField

SWAGGER_DIR = Path(drf_spectacular_sidecar.__file__).parent / "static/drf_spectacular_sidecar/swagger-ui-dist"
SWAGGER_ASSETS = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"}
)

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
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "django_scheduler_api.api.schema.complete_answers_and_optional_nulls",
        "django_scheduler_api.api.schema.refusals_in_the_schema",
    ],
    "TAGS": [
        {"name": "status", "description": "Is a scheduler running; job counts; links to the rest."},
        {"name": "jobs", "description": "Add, read, change and delete jobs."},
        {"name": "executions", "description": "The fires of jobs and their outcomes."},
        {"name": "pause", "description": "Pause jobs."},
        {"name": "resume", "description": "Resume jobs."},
        {"name": "trigger", "description": "Run jobs now, outside their schedule."},
        {"name": "handlers", "description": "The handlers a job can name."},
        {"name": "preview", "description": "The next fire times of a cron expression."},
        {"name": "metrics", "description": "The scheduler's figures for Prometheus (text, not JSON)."},
    ],
}

# Keys an answer may leave out; every other key of a response shape is always present.
OPTIONAL_IN_ANSWERS = {"Error": {"unknown_ids"}}


class FieldErrorsExtension(OpenApiSerializerExtension):
    """``{"field": ["message", ...]}``: a map, which no serializer field can describe."""

    target_class = FieldErrorsSerializer

    def map_serializer(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        return {
            "type": "object",
            "description": get_doc(FieldErrorsSerializer),
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "example": {"handler": ["Unknown handler 'x'."]},
        }


class LenientChoiceFieldExtension(OpenApiSerializerFieldExtension):
    """A request may name a choice by its .NET name or number as well (``LenientChoiceField``)."""

    target_class = LenientChoiceField

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        canonical = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction != "request":
            return canonical
        names = self.target.dotnet_names()
        numbers = list(range(len(names)))
        return {
            "anyOf": [
                enum_ref(self.target.choices_class, canonical),
                {"type": "string", "enum": [*names, *map(str, numbers)]},
                {"type": "integer", "enum": numbers},
            ],
            "description": "The value, or the .NET name (any case) or number of the value.",
        }


def enum_ref(choices: type, inline: dict[str, Any]) -> dict[str, Any]:
    """A reference to the enum component ``ENUM_NAME_OVERRIDES`` names for ``choices``; inline
    when it names none."""
    path = f"{choices.__module__}.{choices.__qualname__}"
    for name, target in SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].items():
        if target == path:
            return {"$ref": f"#/components/schemas/{name}"}
    return inline


ERROR_RESPONSES = {
    "400": OpenApiResponse(
        PolymorphicProxySerializer(
            component_name="BadRequest",
            serializers=[ErrorSerializer, FieldErrorsSerializer],
            resource_type_field_name=None,
        ),
        description="Invalid body, query or id: an Error or FieldErrors.",
    ),
    "403": OpenApiResponse(ErrorSerializer, description="Outside ALLOWED_NETWORKS, or a cross-site request."),
    "404": OpenApiResponse(ErrorSerializer, description="Unknown job or execution (unknown_ids: job ids)."),
    "406": OpenApiResponse(ErrorSerializer, description="No acceptable media type in Accept."),
    "413": OpenApiResponse(ErrorSerializer, description="Body larger than MAX_BODY_SIZE."),
    "415": OpenApiResponse(ErrorSerializer, description="A body that is not application/json."),
}


def document(**info: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Describe a view method for the schema: ``summary``, ``request``, ``responses``,
    ``parameters``, ``examples``, ``operation_id``.

    drf-spectacular's own ``@extend_schema`` builds on the project's ``DEFAULT_SCHEMA_CLASS``, which a
    reusable app cannot require; this records the same facts for ``SchedulerAutoSchema`` to read.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func.api_schema = info  # type: ignore[attr-defined]
        return func

    return decorate


def documented(view: Any, action: str) -> dict[str, Any]:
    """What is said of ``action`` of ``view``: its method's ``@document``, or for an action the view
    inherits unchanged (a viewset's ``list``) the view's ``inherited_actions[action]``, which spares
    a method that would only call ``super()`` to carry its words."""
    method = getattr(view, action, None)
    if hasattr(method, "api_schema"):
        return method.api_schema
    return getattr(view, "inherited_actions", {}).get(action, {})


def action_description(view: Any, action: str) -> str:
    """An action's description: its documented ``description``, else its method's docstring."""
    text = documented(view, action).get("description")
    return text or formatting.dedent(getattr(getattr(view, action, None), "__doc__", None) or "")


class SchedulerAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, reading ``@document`` and documenting the errors every
    operation can answer.

    A client generated from the schema (or schemathesis checking answers against it) then knows the
    403 of the local-only guard, the 413/415 of a write and the 404 of an unknown id.
    """

    def documented(self) -> dict[str, Any]:
        """What ``@document`` (or ``inherited_actions``) says of this operation."""
        return documented(self.view, self.action_name())

    def action_name(self) -> str:
        return getattr(self.view, "action", None) or self.method.lower()

    def get_description(self) -> str:
        return action_description(self.view, self.action_name()) or super().get_description()

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
        # A key may be (code, media type), for an answer that is not JSON (the metrics' text).
        responses = {
            code if isinstance(code, tuple) else str(code): answer for code, answer in responses.items()
        }
        return {**responses, **{c: e for c, e in self.error_responses().items() if c not in responses}}

    def error_responses(self) -> dict[str, Any]:
        """The errors this operation can answer (docs/api.rst, "Status codes"), all in the shared
        ``Error``/``FieldErrors`` shapes."""
        codes = ["400", "403", "406"]
        adds = self.method == "POST" and "{" in self.path  # adds the job when it does not exist
        if ("{" in self.path and not adds) or getattr(self.view, "may_not_find", False):
            codes.append("404")
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["413", "415"]
        if getattr(self.view, "json_errors_only", False):  # a view whose successes are not JSON
            return {(code, "application/json"): ERROR_RESPONSES[code] for code in sorted(codes)}
        return {code: ERROR_RESPONSES[code] for code in sorted(codes)}

    def get_auth(self) -> list[dict[str, Any]]:
        """No security requirement at all: the API has no authentication (the guard lets only the
        local host in), so a generated client needs no credentials."""
        return []

    def get_summary(self) -> str | None:
        return self.documented().get("summary")

    def get_tags(self) -> list[str]:
        return super().get_tags() or ["status"]

    def get_operation_id(self) -> str:
        return self.documented().get("operation_id") or super().get_operation_id()

    def get_examples(self) -> list[OpenApiExample]:
        """The documented examples; a callable one is made now (it may name registered handlers)."""
        examples = self.documented().get("examples", ())
        return [*super().get_examples(), *(e() if callable(e) else e for e in examples)]


def complete_answers_and_optional_nulls(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Two facts the serializers cannot say (a drf-spectacular post-processing hook).

    An answer always carries every key of its shape (``OPTIONAL_IN_ANSWERS`` excepted), so all are
    required in responses. A request may send ``null`` for an optional field, meaning its default
    (as .NET clients do for unset properties), so those are nullable in requests.
    """
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        properties = schema.get("properties")
        if not properties:
            continue
        if not name.endswith("Request"):
            optional = OPTIONAL_IN_ANSWERS.get(name, set())
            schema["required"] = [key for key in properties if key not in optional]
            continue
        full = schemas.get(name.removeprefix("Patched"), schema)
        required = set(full.get("required", ()))
        for key, prop in properties.items():
            if key not in required and not prop.get("readOnly"):
                prop["nullable"] = True
    return result


# Request bodies whose keys are exactly their properties: the server refuses any other key (read-only
# keys excepted, which it ignores). A job's keys are read in any casing, so its shape stays open.
CLOSED_REQUESTS = ("CalendarRequest", "PatchedCalendarRequest", "BackfillRequest")
# Bodies that may carry ``id`` only as a copy of the path's: not documented as a property, which
# would let a client (or schemathesis) send any id and get the server's 400.
ID_IN_PATH = ("JobRequest", "PatchedJobRequest", "CalendarRequest", "PatchedCalendarRequest")
# No text of a request may hold NUL (PostgreSQL cannot store it; the server refuses it everywhere).
NO_NUL = "^[^\\u0000]*$"
# ``ids`` must name at least one id: ``ids=`` or ``ids=;`` is a 400, not "every job".
IDS_NAME_ONE = "[^,; \\t]"


def refusals_in_the_schema(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """What the server refuses that the serializers do not tell drf-spectacular (a post-processing
    hook), so that the schema is no wider than the server (issue 21, D5): unknown keys of closed
    bodies, ``id`` in a body, NUL in any request string, an ``ids`` that names no id."""
    schemas = result.get("components", {}).get("schemas", {})
    for name in CLOSED_REQUESTS:
        if name in schemas:
            schemas[name]["additionalProperties"] = False
    for name in ID_IN_PATH:
        if name in schemas:
            schemas[name].get("properties", {}).pop("id", None)
            if "required" in schemas[name]:
                schemas[name]["required"] = [key for key in schemas[name]["required"] if key != "id"]
    for name, schema in schemas.items():
        if name.endswith("Request"):
            _no_nul(schema)
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", ()) if isinstance(operation, dict) else ():
                if parameter.get("in") == "query":
                    _no_nul(parameter.get("schema", {}))
                if parameter.get("in") == "query" and parameter.get("name") == "ids":
                    parameter["schema"].update(minLength=1, pattern=IDS_NAME_ONE)
    return result


def _no_nul(schema: dict[str, Any]) -> None:
    """Forbid NUL in every string of ``schema`` that has no pattern of its own (which excludes it)."""
    if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
        if schema.get("format") not in ("date-time", "date", "uuid"):
            schema["pattern"] = NO_NUL
    for key in ("properties",):
        for child in schema.get(key, {}).values():
            _no_nul(child)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _no_nul(schema[key])
    for key in ("anyOf", "oneOf", "allOf"):
        for child in schema.get(key, ()):
            _no_nul(child)


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
