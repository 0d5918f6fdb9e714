"""A full workflow through a client that openapi-python-client generated from the API's schema.

``test_generated_client`` generates the package ``scheduler_client`` into a temporary directory, runs
``run`` against a live server and type-checks this module with mypy against the generated package:
a plain ``Client`` (no credentials) must fit every operation, and every answer must parse into the
model the schema names (``raise_on_unexpected_status``: an undocumented status code is an error).

Not a test module of its own (pytest does not collect it): it imports a package that exists only
while that test runs.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID

import httpx
from scheduler_client import Client
from scheduler_client.api.executions import executions_list, executions_retrieve
from scheduler_client.api.handlers import handlers_list
from scheduler_client.api.jobs import (
    jobs_backfill_create,
    jobs_create,
    jobs_destroy,
    jobs_executions_list,
    jobs_list,
    jobs_partial_update,
    jobs_retrieve,
)
from scheduler_client.api.pause import pause_create
from scheduler_client.api.preview import preview_retrieve
from scheduler_client.api.resume import resume_create
from scheduler_client.api.status import status_retrieve
from scheduler_client.api.trigger import trigger_create
from scheduler_client.models import (
    Backfilled,
    BackfillRequest,
    Deleted,
    Error,
    Execution,
    ExecutionDetail,
    ExecutionStatusEnum,
    FieldErrors,
    Handler,
    Job,
    JobRequest,
    JobRequestDataType0,
    JobRequestStateType2,
    JobStateEnum,
    MisfirePolicyEnum,
    OverlapPolicyEnum,
    PatchedJobRequest,
    Paused,
    Preview,
    Resumed,
    Status,
    TriggerCreateBody,
    Triggered,
)

T = TypeVar("T")


def parsed(value: object, kind: type[T]) -> T:
    """``value`` narrowed to the model the call should have answered with."""
    assert isinstance(value, kind), f"expected {kind.__name__}, got {value!r}"
    return value


def make_client(base_url: str, calls: Counter[str]) -> Client:
    """A plain client (the API needs no credentials) that counts its requests by status code."""

    def count(response: httpx.Response) -> None:
        calls[str(response.status_code)] += 1

    # The live server is Django's development server (wsgiref), which reports a request without a
    # Content-Type as text/plain; the guard refuses a text/plain write even without a body (an old
    # browser's cross-site form looks so), so the bodyless POSTs (pause, resume) say JSON.
    return Client(
        base_url=base_url,
        raise_on_unexpected_status=True,
        headers={"Content-Type": "application/json"},
        httpx_args={"event_hooks": {"response": [count]}},
    )


def run(base_url: str, handler: str, *, timeout: float = 60) -> Counter[str]:
    """Every operation of the API through the generated client; returns the calls by status code.

    ``handler`` is a registered handler that returns what it was given (``tests.echo``).
    """
    calls: Counter[str] = Counter()
    client = make_client(base_url, calls)

    status = parsed(status_retrieve.sync(client=client), Status)
    assert status.all_.count == 0
    names = [h.name for h in parsed(handlers_list.sync(client=client), list) if isinstance(h, Handler)]
    assert handler in names

    # Three kinds of job: a cron job, a one-shot job, and a paused job with a window (sent in the
    # .NET spelling the schema documents for requests: the enum's number).
    data = JobRequestDataType0.from_dict({"report": "daily", "recipients": ["ops@example.com"]})
    cron = parsed(
        jobs_create.sync(
            "reports.daily",
            client=client,
            body=JobRequest(handler=handler, cron_expression="0 15 10 ? * MON-FRI", data=data),
        ),
        Job,
    )
    assert cron.id == "reports.daily" and cron.group == "reports" and cron.state == JobStateEnum.PLANNED
    start = datetime.now(UTC) + timedelta(days=1)
    once = parsed(
        jobs_create.sync("cleanup.once", client=client, body=JobRequest(handler=handler, start_time=start)),
        Job,
    )
    assert once.cron_description == "Once" and once.next_fire_time is not None
    windowed = parsed(
        jobs_create.sync(
            "sync",
            client=client,
            body=JobRequest(
                handler=handler,
                cron_expression="0 0/5 * * * ?",
                timezone="Europe/Berlin",
                start_time=start,
                end_time=start + timedelta(days=30),
                state=JobRequestStateType2.VALUE_1,
                misfire_policy=MisfirePolicyEnum.FIRE_AND_PROCEED,
                overlap_policy=OverlapPolicyEnum.SKIP,
            ),
        ),
        Job,
    )
    assert windowed.group == "default" and windowed.state == JobStateEnum.PAUSED

    # Lists: filters, paging, and the total in a header.
    everything = jobs_list.sync_detailed(client=client, take=2)
    page = parsed(everything.parsed, list)
    assert [parsed(j, Job).id for j in page] == ["cleanup.once", "reports.daily"]
    assert everything.headers["X-Total-Count"] == "3" and 'rel="next"' in everything.headers["Link"]
    rest = parsed(jobs_list.sync(client=client, skip=2, take=2), list)
    assert [parsed(j, Job).id for j in rest] == ["sync"]
    paused = parsed(jobs_list.sync(client=client, state=JobStateEnum.PAUSED), list)
    assert [parsed(j, Job).id for j in paused] == ["sync"]
    grouped = parsed(jobs_list.sync(client=client, group="reports", handler=handler), list)
    assert [parsed(j, Job).id for j in grouped] == ["reports.daily"]

    # Read, replace, change.
    fetched = parsed(jobs_retrieve.sync("reports.daily", client=client), Job)
    assert fetched.data.to_dict() == data.to_dict()
    replaced = parsed(
        jobs_create.sync(
            "reports.daily",
            client=client,
            body=JobRequest(handler=handler, cron_expression="0 30 9 ? * MON-FRI", description="v2"),
        ),
        Job,
    )
    assert replaced.description == "v2" and replaced.data.to_dict() == {}  # a POST replaces the whole job
    patched = parsed(
        jobs_partial_update.sync("reports.daily", client=client, body=PatchedJobRequest(description="v3")),
        Job,
    )
    assert patched.description == "v3" and patched.cron_expression == "0 30 9 ? * MON-FRI"

    # Pause and resume.
    assert parsed(pause_create.sync(client=client, ids="reports.daily"), Paused).paused == ["reports.daily"]
    assert parsed(jobs_retrieve.sync("reports.daily", client=client), Job).state == JobStateEnum.PAUSED
    assert parsed(resume_create.sync(client=client, ids="reports.daily;sync"), Resumed).resumed == [
        "reports.daily",
        "sync",
    ]

    # Trigger with a body, and wait for the worker to run the handler.
    body = TriggerCreateBody.from_dict({"reason": "generated client"})
    triggered = parsed(trigger_create.sync(client=client, ids="reports.daily", body=body), Triggered)
    [one] = triggered.triggered
    assert one.job == "reports.daily"
    execution = wait_until_finished(client, one.execution, timeout)
    assert execution.status == ExecutionStatusEnum.SUCCEEDED, execution.error
    result = execution.result
    assert isinstance(result, dict) and result["data"]["reason"] == "generated client"
    history = parsed(jobs_executions_list.sync("reports.daily", client=client), list)
    assert [parsed(e, Execution).id for e in history] == [one.execution]
    done = parsed(
        executions_list.sync(client=client, job="reports.daily", status=ExecutionStatusEnum.SUCCEEDED), list
    )
    assert [parsed(e, Execution).id for e in done] == [one.execution]

    # Preview.
    after = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday
    preview = parsed(
        preview_retrieve.sync(client=client, cron_expression="0 15 10 ? * MON-FRI", after=after, count=2),
        Preview,
    )
    monday, tuesday = datetime(2026, 11, 30, 10, 15, tzinfo=UTC), datetime(2026, 12, 1, 10, 15, tzinfo=UTC)
    assert preview.fire_times == [monday, tuesday]

    # Errors parse into the shared shapes: field errors, a detail, unknown ids.
    invalid = parsed(
        jobs_create.sync("bad.cron", client=client, body=JobRequest(handler=handler, cron_expression="nope")),
        FieldErrors,
    )
    assert "cron_expression" in invalid.additional_properties
    missing = parsed(jobs_retrieve.sync("no.such.job", client=client), Error)
    assert "no.such.job" in missing.detail
    malformed = parsed(jobs_retrieve.sync("bad id!", client=client), FieldErrors)
    assert list(malformed.additional_properties) == ["id"]
    unknown = parsed(pause_create.sync(client=client, ids="reports.daily,ghost"), Error)
    assert unknown.unknown_ids == ["ghost"]
    assert parsed(jobs_retrieve.sync("reports.daily", client=client), Job).state == JobStateEnum.PLANNED

    # Backfill a past week of the weekday job: five fire times, each once however often it is asked.
    start = datetime.now(UTC) - timedelta(days=8)
    week = BackfillRequest(start=start, end=start + timedelta(days=7))
    backfilled = parsed(jobs_backfill_create.sync("reports.daily", client=client, body=week), Backfilled)
    assert backfilled.fire_times == backfilled.created == len(backfilled.executions) == 5
    again = parsed(jobs_backfill_create.sync("reports.daily", client=client, body=week), Backfilled)
    assert (again.created, again.already_recorded) == (0, 5)

    # Delete: 200 with a body; the history stays.
    deleted = parsed(jobs_destroy.sync("reports.daily", client=client), Deleted)
    assert deleted.id == "reports.daily" and deleted.deleted
    gone = parsed(jobs_destroy.sync("reports.daily", client=client), Error)
    assert "reports.daily" in gone.detail
    assert len(parsed(jobs_executions_list.sync("reports.daily", client=client), list)) == 1 + 5
    assert parsed(status_retrieve.sync(client=client), Status).all_.count == 2
    return calls


def wait_until_finished(client: Client, execution_id: UUID, timeout: float) -> ExecutionDetail:
    """Poll the execution until a worker has finished it (a liveness bound, not a speed goal)."""
    deadline = time.monotonic() + timeout
    while True:
        execution = parsed(executions_retrieve.sync(execution_id, client=client), ExecutionDetail)
        if execution.status not in (ExecutionStatusEnum.QUEUED, ExecutionStatusEnum.RUNNING):
            return execution
        assert time.monotonic() < deadline, f"execution {execution_id} still {execution.status}"
        time.sleep(0.1)
