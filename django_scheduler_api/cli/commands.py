"""The subcommands of ``manage.py scheduler``, each the command-line twin of one REST endpoint.

Each returns an ``Output``: ``data`` is the REST API's answer for the same request (printed with
``--json``), ``text`` what a person reads. Validation and changes go through the API's serializers
and ``services``; errors are ``CommandError``s carrying the API's message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management.base import CommandError
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from django_scheduler_api import backfill, calendars, planning, retries, services
from django_scheduler_api.api import serializers as api
from django_scheduler_api.api.filters import JobFilter
from django_scheduler_api.api.pagination import parse_paging
from django_scheduler_api.cli import editing, tables
from django_scheduler_api.cli.api import api_request, validated
from django_scheduler_api.models import Job
from django_scheduler_api.validation import error_message, refusal_detail

RECENT_EXECUTIONS = 5


@dataclass(frozen=True)
class Output:
    """What a subcommand answers: the API's JSON and a human rendering of it."""

    data: Any
    text: str


def run(options: dict[str, Any]) -> Output:
    """Run the subcommand named in ``options`` (the parsed arguments)."""
    request = api_request(options["base_url"])
    subcommand: Callable[[dict[str, Any], Request], Output] = SUBCOMMANDS[options["subcommand"]]
    try:
        return subcommand(options, request)
    except (services.UnknownJobs, services.NoSuchJob, planning.ExcludedEverything) as exc:
        raise CommandError(str(exc)) from None
    except ValidationError as exc:
        raise CommandError(error_message(exc.detail)) from None
    except DjangoValidationError as exc:  # a refusal of services, in the API's words
        raise CommandError(error_message(refusal_detail(exc))) from None


def status(options: dict[str, Any], request: Request) -> Output:
    """``GET /``: whether a scheduler is running, job counts, live nodes."""
    status = services.status()
    data = api.StatusSerializer(status, context={"request": request}).data
    nodes, counts, next_fire = status.nodes, status.counts, status.next_fire_time
    summary = tables.fields(
        [
            ("Scheduler", f"started ({len(nodes)} node(s))" if nodes else "not started"),
            ("Jobs", f"{status.total} ({counts['planned']} planned, {counts['paused']} paused)"),
            ("Next fire", f"{tables.when(next_fire)} UTC" if next_fire else "-"),
        ]
    )
    node_rows = [(n.name, n.started_at, n.last_seen) for n in nodes]
    text = summary + ("\n\n" + tables.table(["NODE", "STARTED", "LAST SEEN"], node_rows) if nodes else "")
    return Output(data, text)


def list_jobs(options: dict[str, Any], request: Request) -> Output:
    """``GET /jobs``: jobs ordered by id, filtered and paged with the API's rules."""
    params = {k: options[k] for k in ("state", "group", "handler", "skip", "take") if options[k] is not None}
    queryset = JobFilter.apply(services.filter_jobs(), params)
    skip, take = parse_paging(params)
    total = queryset.count()
    jobs = list(queryset[skip : skip + take])
    data = api.JobSerializer(jobs, many=True, context={"request": request}).data
    rows = [
        (j.id, j.state, j.handler, _schedule(j), _limits(j), j.next_fire_time, j.retry_max_attempts)
        for j in jobs
    ]
    headers = ["ID", "STATE", "HANDLER", "SCHEDULE", "LIMITS", "NEXT FIRE (UTC)", "ATTEMPTS"]
    text = tables.table(headers, rows)
    shown = f"{skip + 1}-{skip + len(jobs)}" if jobs else "none"
    return Output(data, f"{text}\n\n{shown} of {total} job(s)")


def show(options: dict[str, Any], request: Request) -> Output:
    """``GET /jobs/{id}``: one job, with its next fires and last executions for people."""
    job = services.get_job(options["id"])
    data = api.JobSerializer(job, context={"request": request}).data
    details = tables.fields(
        [(name, data[name]) for name in ("id", "group", "name", "state", "description", "handler")]
        + [
            ("cron_expression", job.cron_expression or ("-" if job.interval else "(once)")),
            ("cron_description", data["cron_description"]),
        ]
        + [(name, data[name]) for name in ("interval", "interval_anchor", "repeat_count") if job.interval]
        + [(name, data[name]) for name in ("timezone", "start_time", "end_time", "misfire_policy")]
        + [("jitter", f"{job.jitter} s")]
        + [("calendars", ", ".join(job.calendars))] * bool(job.calendars)
        + [(name, data[name]) for name in Job.RETRY_FIELDS if job.retry_max_attempts > 1]
        + [("retry", retries.describe(retries.RetryPolicy.of(job)))]
        + [("overlap_policy", job.overlap_policy), ("max_concurrent", _max_concurrent(job))]
        + [("timeout", f"{job.timeout} s" if job.timeout else "none")]
        + [("data", json.dumps(job.data, sort_keys=True))]
        + [(name, data[name]) for name in ("next_fire_time", "previous_fire_time")]
    )
    fires = "\n".join(f"  {tables.when(t)}" for t in services.upcoming_fire_times(job, 5)) or "  none"
    rows = [
        (e.id, e.trigger, e.attempt, e.status, e.scheduled_fire_time, e.duration_ms, e.error)
        for e in services.recent_executions(job.pk, RECENT_EXECUTIONS)
    ]
    headers = ["EXECUTION", "TRIGGER", "ATTEMPT", "STATUS", "SCHEDULED (UTC)", "MS", "ERROR"]
    history = tables.table(headers, rows)
    text = f"{details}\n\nNext fire times (UTC):\n{fires}\n\nLast executions:\n{history}"
    return Output(data, text)


def pause(options: dict[str, Any], request: Request) -> Output:
    """``POST /pause?ids=``: no ids pauses every job."""
    paused = services.pause_jobs(_ids(options))
    return Output(api.PausedSerializer({"paused": paused}).data, _done("Paused", paused))


def resume(options: dict[str, Any], request: Request) -> Output:
    """``POST /resume?ids=``: no ids resumes every job."""
    resumed = services.resume_jobs(_ids(options))
    return Output(api.ResumedSerializer({"resumed": resumed}).data, _done("Resumed", resumed))


def trigger(options: dict[str, Any], request: Request) -> Output:
    """``POST /trigger?ids=`` with ``--data`` as the body: one manual execution per job."""
    body = _trigger_body(options["data"])
    executions = services.trigger_jobs(_ids(options), body)
    data = api.TriggeredSerializer({"triggered": executions}, context={"request": request}).data
    text = tables.table(["JOB", "EXECUTION"], [(e.job_id, e.id) for e in executions])
    unsent = sum(1 for e in executions if e.enqueued_at is None)
    later = f" {unsent} not sent yet: a scheduler sends them from its outbox." if unsent else ""
    return Output(data, f"{text}\n\nTriggered {len(executions)} job(s).{later}")


def delete(options: dict[str, Any], request: Request) -> Output:
    """``DELETE /jobs/{id}``: its queued executions are cancelled, its history stays."""
    services.delete_job(options["id"])
    data = api.DeletedSerializer({"id": options["id"], "deleted": True}).data
    return Output(data, f"Deleted job {options['id']}.")


def preview(options: dict[str, Any], request: Request) -> Output:
    """``GET /preview``: the next fire times of an expression or an interval, validated by the engine."""
    names = (
        "cron_expression", "interval", "interval_anchor", "repeat_count", "timezone", "after", "count",
        "calendar", "jitter", "job",
    )  # fmt: skip
    query = {k: options[k] for k in names if options[k] is not None}
    preview = services.preview(**validated(api.PreviewQuerySerializer, query, request=request))
    lines = "\n".join(f"  {tables.when(t)} UTC" for t in preview.fire_times)
    lines = lines or "  none: the schedule never fires again"
    header = f"{preview.cron_expression or f'every {preview.interval} s'}: {preview.description}"
    header += f" ({preview.timezone})" if preview.cron_expression else ""
    header += f", not in {', '.join(preview.calendars)}" if preview.calendars else ""
    header += f", jitter up to {preview.jitter} s for {preview.job}" if preview.jitter else ""
    return Output(api.PreviewSerializer(preview).data, f"{header}\n{lines}")


def list_calendars(options: dict[str, Any], request: Request) -> Output:
    """``GET /calendars``: every calendar and what it excludes."""
    found = list(calendars.list_calendars())
    data = api.CalendarSerializer(found, many=True, context={"request": request}).data
    rows = [
        (c.id, len(c.dates), len(c.date_ranges), len(c.yearly_dates), "; ".join(c.cron_expressions) or "-")
        for c in found
    ]
    text = tables.table(["ID", "DATES", "RANGES", "YEARLY", "CRON"], rows)
    return Output(data, f"{text}\n\n{len(found)} calendar(s)")


def create(options: dict[str, Any], request: Request) -> Output:
    """``POST /jobs/{id}``: a new job (``--replace``: an existing one replaced whole)."""
    data = editing.create(options, request)
    return Output(data, f"Saved job {data['id']}.\n\n{show(options, request).text}")


def update(options: dict[str, Any], request: Request) -> Output:
    """``PATCH /jobs/{id}``: the fields given changed."""
    data = editing.update(options, request)
    return Output(data, f"Saved job {data['id']}.\n\n{show(options, request).text}")


def backfill_job(options: dict[str, Any], request: Request) -> Output:
    """``POST /jobs/{id}/backfill``: one execution per past fire time of the range that has none."""
    body = validated(api.BackfillSerializer, {"start": options["start"], "end": options["end"]})
    done = backfill.backfill(options["id"], **body)
    data = api.BackfilledSerializer(done, context={"request": request}).data
    text = tables.table(
        ["EXECUTION", "SCHEDULED (UTC)"], [(e.id, e.scheduled_fire_time) for e in done.executions]
    )
    summary = (
        f"Backfilled job {done.job_id} from {tables.when(done.start)} to {tables.when(done.end)} UTC: "
        f"{done.fire_times} fire time(s), {done.created} execution(s) created, "
        f"{done.already_recorded} had one already."
    )
    unsent = sum(1 for e in done.executions if e.enqueued_at is None)
    later = f" {unsent} not sent yet: a scheduler sends them from its outbox." if unsent else ""
    return Output(data, f"{text}\n\n{summary}{later}" if done.executions else summary + later)


def _schedule(job: Any) -> str:
    """The list's schedule column: the cron expression, the interval, or once."""
    if job.interval:
        return f"every {job.interval} s"
    return job.cron_expression or "(once)"


def _limits(job: Any) -> str:
    """The list's limits column: what bounds a job's runs (overlap, timeout), or "-"."""
    limits = [] if job.overlap_policy == "allow" else [f"{job.overlap_policy} (max {_max_concurrent(job)})"]
    limits += [f"timeout {job.timeout} s"] if job.timeout else []
    return ", ".join(limits) or "-"


def _max_concurrent(job: Any) -> str:
    """How many runs of the job at once: its overlap policy's bound, or "no limit" under allow."""
    return "no limit" if job.overlap_policy == "allow" else str(job.max_concurrent or 1)


def _ids(options: dict[str, Any]) -> list[str]:
    """Ids given as separate arguments or as the API's ``a,b;c`` list, or both."""
    return services.parse_ids(",".join(options["ids"] or []))


def _trigger_body(raw: str | None) -> dict[str, Any]:
    """``--data`` parsed like the API's request body, by the same rules (``jsonvalues``): a JSON
    object, or nothing."""
    if raw is None or not raw.strip():
        return {}
    body = editing.parse_json(raw)
    if not isinstance(body, dict):
        raise CommandError(f"The body must be a JSON object, not {type(body).__name__}.")
    return body


def _done(verb: str, ids: list[str]) -> str:
    return f"{verb} {len(ids)} job(s)" + (f": {', '.join(ids)}." if ids else ".")


SUBCOMMANDS: dict[str, Callable[[dict[str, Any], Request], Output]] = {
    "status": status,
    "list": list_jobs,
    "show": show,
    "pause": pause,
    "resume": resume,
    "trigger": trigger,
    "delete": delete,
    "preview": preview,
    "calendars": list_calendars,
    "backfill": backfill_job,
    "create": create,
    "update": update,
}
