"""The OpenAPI schema, the Swagger UI with local assets, and schemathesis fuzzing the API with it."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from django_scheduler_api import services
from tests.api.conftest import BASE

pytestmark = pytest.mark.django_db

OPERATIONS = {
    "/scheduler": ["get"],
    "/scheduler/jobs": ["get"],
    "/scheduler/jobs/{id}": ["get", "post", "patch", "delete"],
    "/scheduler/jobs/{id}/executions": ["get"],
    "/scheduler/calendars": ["get"],
    "/scheduler/calendars/{id}": ["get", "post", "patch", "delete"],
    "/scheduler/jobs/{id}/backfill": ["post"],
    "/scheduler/executions": ["get"],
    "/scheduler/executions/{id}": ["get"],
    "/scheduler/handlers": ["get"],
    "/scheduler/preview": ["get"],
    "/scheduler/pause": ["post"],
    "/scheduler/resume": ["post"],
    "/scheduler/trigger": ["post"],
    "/scheduler/metrics": ["get"],
}


def test_the_schema_lists_exactly_the_apps_operations(api):
    response = api.get(f"{BASE}/schema")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {path: sorted(ops) for path, ops in schema["paths"].items()} == {
        path: sorted(ops) for path, ops in OPERATIONS.items()
    }


def test_the_schema_documents_errors_and_paging_headers(api):
    paths = api.get(f"{BASE}/schema/").json()["paths"]
    post = paths["/scheduler/jobs/{id}"]["post"]
    assert set(post["responses"]) == {"200", "400", "403", "406", "413", "415"}  # POST adds: no 404
    assert set(paths["/scheduler/jobs/{id}"]["patch"]["responses"]) == {*post["responses"], "404"}
    assert set(paths["/scheduler/jobs"]["get"]["responses"]["200"]["headers"]) == {"X-Total-Count", "Link"}
    assert {p["name"] for p in paths["/scheduler/jobs"]["get"]["parameters"]} >= {"state", "skip", "take"}


def test_the_schema_is_valid_openapi(api):
    validate(api.get(f"{BASE}/schema").json())


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_operation_has_a_summary_a_tag_and_no_security_requirement(api):
    schema = api.get(f"{BASE}/schema").json()
    assert "security" not in schema and "securitySchemes" not in schema.get("components", {})
    for path, method, operation in operations(schema):
        assert "security" not in operation, (path, method)
        assert operation["summary"] and operation["tags"] != ["default"], (path, method)
    assert schema["paths"]["/scheduler"]["get"]["tags"] == ["status"]


def test_delete_is_documented_as_200_with_its_body(api):
    schema = api.get(f"{BASE}/schema").json()
    responses = schema["paths"]["/scheduler/jobs/{id}"]["delete"]["responses"]
    assert "204" not in responses
    body = responses["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Deleted"}
    assert schema["components"]["schemas"]["Deleted"]["required"] == ["id", "deleted"]


def test_every_error_response_uses_the_shared_shapes(api):
    schema = api.get(f"{BASE}/schema").json()
    components = schema["components"]["schemas"]
    assert components["Error"]["required"] == ["detail"]
    assert set(components["Error"]["properties"]) == {"detail", "unknown_ids"}
    assert components["BadRequest"]["oneOf"] == [
        {"$ref": "#/components/schemas/Error"},
        {"$ref": "#/components/schemas/FieldErrors"},
    ]
    refs = set()
    for _path, _method, operation in operations(schema):
        for code, response in operation["responses"].items():
            if code != "200":
                refs.add((code, response["content"]["application/json"]["schema"]["$ref"].split("/")[-1]))
    shared = {("400", "BadRequest"), *((code, "Error") for code in ("403", "404", "406", "413", "415"))}
    assert refs == {*shared, ("409", "CalendarInUse")}  # an Error that also lists the jobs
    assert set(components["CalendarInUse"]["properties"]) == {"detail", "jobs"}


def test_answers_mark_every_key_required_and_requests_take_aliases_and_nulls(api):
    components = api.get(f"{BASE}/schema").json()["components"]["schemas"]
    job = components["Job"]
    assert set(job["required"]) == set(job["properties"]) and {"id", "state"} <= set(job["required"])
    assert job["properties"]["data"]["type"] == "object"
    request = components["JobRequest"]["properties"]
    assert request["state"]["anyOf"][1:] == [
        {"type": "string", "enum": ["Planned", "Paused", "0", "1"]},
        {"type": "integer", "enum": [0, 1]},
    ]
    assert request["description"]["nullable"] and "nullable" not in request["handler"]
    assert components["JobRequest"]["required"] == ["handler"]


# Writes before reads, the delete last: each example runs on what the earlier ones made.
METHOD_ORDER = {"post": 0, "patch": 1, "get": 2, "delete": 3}


def example_requests(schema):
    """(method, url, query, body) for every example of the schema, in METHOD_ORDER; an operation
    with a required parameter that has no example is left out (Swagger UI asks the user for it)."""
    requests = []
    for path, method, operation in operations(schema):
        params = operation.get("parameters", [])
        values = {p["name"]: next(iter(p["examples"].values()))["value"] for p in params if "examples" in p}
        if any(p.get("required") and p["name"] not in values for p in params):
            continue
        url = path.format(**values)
        query = {p["name"]: values[p["name"]] for p in params if p["in"] == "query" and p["name"] in values}
        content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        bodies = [example["value"] for example in content.get("examples", {}).values()] or [None]
        requests += [(method, url, query, body) for body in bodies]
    return sorted(requests, key=lambda request: METHOD_ORDER[request[0]])


def test_every_example_of_the_schema_is_accepted_as_it_stands(api, db):
    """Swagger UI pre-fills its forms with these: each must succeed when sent unchanged."""
    schema = api.get(f"{BASE}/schema").json()
    requests = example_requests(schema)
    assert {(method, url) for method, url, _, body in requests if body is not None} >= {
        ("post", "/scheduler/jobs/reports.daily"),
        ("patch", "/scheduler/jobs/reports.daily"),
        ("post", "/scheduler/trigger"),
    }
    for method, url, query, body in requests:
        target = f"{url}?{urlencode(query)}" if query else url
        response = getattr(api, method)(target, body, format="json")
        assert response.status_code == 200, (method, target, body, response.json())
    # The examples of fields: data, in a job.
    data = schema["components"]["schemas"]["JobRequest"]["properties"]["data"]["example"]
    post = schema["paths"]["/scheduler/jobs/{id}"]["post"]["requestBody"]["content"]["application/json"]
    job = {**next(iter(post["examples"].values()))["value"], "data": data}
    response = api.post(f"{BASE}/jobs/example", job, format="json")
    assert response.status_code == 200 and response.json()["data"] == data


def test_the_root_documents_its_links(api):
    status = api.get(f"{BASE}/schema").json()["components"]["schemas"]["Status"]
    assert {"jobs", "executions", "handlers", "preview", "schema", "docs"} <= set(status["properties"])


def test_the_schema_is_available_as_yaml(api):
    response = api.get(f"{BASE}/schema", {"format": "yaml"})
    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.")


def test_swagger_ui_uses_only_local_assets(api):
    response = api.get(f"{BASE}/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "https://" not in page and "cdn" not in page
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        url = f"http://testserver/scheduler/docs/assets/{asset}"
        assert url in page
        served = api.get(url)
        assert served.status_code == 200
        assert b"".join(served.streaming_content)


@pytest.mark.parametrize("name", ["LICENSE", "..%2F__init__.py", "index.html"])
def test_no_other_file_is_served(api, name):
    assert api.get(f"{BASE}/docs/assets/{name}").status_code == 404


# -- the schema is no wider than the server (issue 21, D5) ---------------------------------------


def test_the_schema_refuses_what_the_server_refuses(api):
    """Found by schemathesis: an empty ``ids``, unknown keys of calendar and backfill bodies, NUL in
    text and a body ``id`` (which must equal the path's) were schema-valid and got a 400."""
    schema = api.get(f"{BASE}/schema").json()
    components = schema["components"]["schemas"]
    for name in ("CalendarRequest", "PatchedCalendarRequest", "BackfillRequest"):
        assert components[name]["additionalProperties"] is False, name
    for name in ("JobRequest", "PatchedJobRequest", "CalendarRequest", "PatchedCalendarRequest"):
        assert "id" not in components[name]["properties"], name
    assert components["JobRequest"]["properties"]["description"]["pattern"] == "^[^\\u0000]*$"
    for action in ("pause", "resume", "trigger"):
        (ids,) = schema["paths"][f"{BASE}/{action}"]["post"]["parameters"]
        assert ids["schema"]["minLength"] == 1 and ids["schema"]["pattern"] == "[^,; \\t]"
    assert components["FieldErrors"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        (
            "jobs/a",
            {"handler": "tests.echo", "calendars": [""]},
            {"calendars": ["0: This field may not be blank."]},
        ),
        ("calendars/c", {"dates": ["2026-01-01", 5]}, None),
    ],
)
def test_per_item_errors_are_flat_field_errors(api, db, path, body, expected):
    """``{"calendars": {"0": [...]}}`` did not match ``BadRequest``: items' errors are flattened."""
    answer = api.post(f"{BASE}/{path}", body, format="json").json()
    assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in answer.values()), answer
    if expected is not None:
        assert answer == expected


# -- schemathesis -------------------------------------------------------------------------------

# Cases per operation of the negative run (16 operations): enough to find the classic 500s (a NUL,
# a wrong type, a missing field) at a cost of about a minute per database in CI.
NEGATIVE_EXAMPLES = 30


def local_client(app):
    """The WSGI app as a local client reaches it (werkzeug's test client sends no REMOTE_ADDR)."""

    def call(environ, start_response):
        environ["REMOTE_ADDR"] = "127.0.0.1"
        return app(environ, start_response)

    return call


def load_schema(mode: GenerationMode, max_examples: int):
    """The app's own schema, loaded through the WSGI application the fuzzer then calls.

    Loaded at import (no database needed): schemathesis's lazy ``from_fixture`` loader does not
    work with pytest 9 (it sets ``node._nodeid``, which pytest 9 no longer has). Negative cases may
    hold ``\x00`` anywhere: it must be a 4xx on every database.
    """
    schema = schemathesis.openapi.from_wsgi(f"{BASE}/schema", local_client(get_wsgi_application()))
    schema.config.generation.update(
        modes=[mode],
        max_examples=max_examples,
        deterministic=True,
        allow_x00=mode == GenerationMode.NEGATIVE,
        database="none",
    )
    return schema


fuzzed = load_schema(GenerationMode.POSITIVE, 25)
negative = load_schema(GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)


@pytest.fixture
def keep_connection():
    """Calling the WSGI app directly sends ``request_finished``, which closes the database
    connection the test's transaction lives in; Django's own test client disconnects it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def example_job(db):
    """The job the schema's examples name (``reports.daily``) with an execution, so that the
    examples and part of the generated cases reach answers with bodies (a job, its executions, a
    deletion) and their response schemas are checked, not only the 404s of an empty database."""
    services.save_job("reports.daily", {"handler": "tests.echo", "cron_expression": "0 15 10 ? * MON-FRI"})
    services.trigger_jobs(["reports.daily"], {})  # stays queued: the test's transaction never commits


@pytest.mark.django_db
@pytest.mark.usefixtures("keep_connection", "example_job")
@fuzzed.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_schema(case):
    """No 5xx, and every answer (status, content type, headers, body) is what the schema says.

    Not checked: that every schema-valid request is accepted. The schema cannot say which handlers
    are registered, which strings are valid Quartz expressions or that end_time follows start_time,
    so such requests rightly get a 400 (which the schema documents).
    """
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


@pytest.mark.django_db
@pytest.mark.usefixtures("keep_connection", "example_job")
@negative.parametrize()
@settings(
    max_examples=NEGATIVE_EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
def test_the_api_refuses_what_its_schema_forbids(case):
    """Negative data (wrong types, missing or extra fields, values outside their patterns, NULs): no
    5xx, a 4xx for every schema-invalid request, 405 for undeclared methods, and each answer as
    documented: every default check but the acceptance of schema-valid data, for the reason the
    positive test gives (a mutation that stays schema-valid may still name no registered handler)."""
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
