"""The arguments of ``manage.py scheduler``: one subcommand per REST endpoint, same option names."""

from __future__ import annotations

import argparse

from django_scheduler_api.cli.editing import FIELDS, NULL, option
from django_scheduler_api.validation import JobFieldsSerializer

# Short spellings of options besides the field's own (``--cron-expression``).
ALIASES = {"cron_expression": ("--cron",)}


def add_subcommands(parser: argparse.ArgumentParser) -> None:
    """Add the subcommands to the management command's parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json",
        action="store_true",
        help="Print the REST API's JSON answer instead of a table (for scripts).",
    )
    common.add_argument(
        "--base-url",
        default="http://127.0.0.1:8000",
        help="Scheme and host the JSON's links start with (default http://127.0.0.1:8000).",
    )
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    sub.add_parser("status", parents=[common], help="Is a scheduler running; how many jobs.")
    _add_list(sub, common)
    show = sub.add_parser("show", parents=[common], help="One job, its next fires and last executions.")
    show.add_argument("id", help="The job's id.")
    for name, verb in (("pause", "Pause"), ("resume", "Resume")):
        command = sub.add_parser(name, parents=[common], help=f"{verb} jobs (no ids: all jobs).")
        _add_ids(command)
    trigger = sub.add_parser("trigger", parents=[common], help="Fire jobs now (no ids: all planned jobs).")
    _add_ids(trigger)
    trigger.add_argument(
        "--data", default=None, help="A JSON object merged over each job's data, e.g. '{\"k\": 1}'."
    )
    delete = sub.add_parser(
        "delete", parents=[common], help="Delete a job; its queued executions are cancelled."
    )
    delete.add_argument("id", help="The job's id.")
    _add_preview(sub, common)
    sub.add_parser("calendars", parents=[common], help="The calendars and what each excludes.")
    _add_backfill(sub, common)
    _add_editing(sub, common)


def _add_ids(command: argparse.ArgumentParser) -> None:
    command.add_argument("ids", nargs="*", help="Job ids, separated by spaces, ',' or ';'. None: all jobs.")


def _add_list(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    command = sub.add_parser("list", parents=[common], help="Jobs ordered by id, a page at a time.")
    command.add_argument("--state", help="planned or paused.")
    command.add_argument("--group", help="Only jobs of this group.")
    command.add_argument("--handler", help="Only jobs run by this handler.")
    command.add_argument("--skip", default=None, help="Jobs to skip (default 0).")
    command.add_argument("--take", default=None, help="Jobs to show (default and maximum: settings).")


def _add_preview(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    command = sub.add_parser(
        "preview", parents=[common], help="The next fire times of a cron expression or an interval."
    )
    command.add_argument(
        "cron_expression", metavar="EXPR", nargs="?", help="A Quartz cron expression (quote it)."
    )
    command.add_argument("--interval", default=None, help="Seconds between fires, instead of EXPR.")
    command.add_argument(
        "--interval-anchor", default=None, help="The instant the interval counts from (ISO 8601)."
    )
    command.add_argument("--repeat-count", default=None, help="Fires after the first (default: for ever).")
    command.add_argument("--jitter", default=None, help="A job's jitter in seconds (needs --job).")
    command.add_argument("--job", default=None, help="The id of the job whose jitter delays the fires.")
    command.add_argument("--timezone", default=None, help="The IANA zone it is read in.")
    command.add_argument("--after", default=None, help="An ISO 8601 instant (default now).")
    command.add_argument("--count", default=None, help="How many fire times.")
    command.add_argument(
        "--calendar", default=None, help="Calendar ids (separated by ','): skip the times they exclude."
    )


def _add_backfill(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    command = sub.add_parser(
        "backfill",
        parents=[common],
        help="Run the fire times of a job's schedule in a past range, each once.",
    )
    command.add_argument("id", help="The job's id.")
    command.add_argument(
        "--start", required=True, help="The range's first instant (ISO 8601, UTC if no offset)."
    )
    command.add_argument(
        "--end", required=True, help="The range's last instant: after --start, not in the future."
    )


def _add_editing(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    create = sub.add_parser(
        "create", parents=[common], help="Add a job: --handler and any other field (the API's POST)."
    )
    create.add_argument("id", help="The job's id.")
    create.add_argument("--replace", action="store_true", help="Replace an existing job whole, as POST does.")
    update = sub.add_parser(
        "update", parents=[common], help="Change the fields given of a job (the API's PATCH)."
    )
    update.add_argument("id", help="The job's id.")
    for command in (create, update):
        _add_fields(command)


def _add_fields(command: argparse.ArgumentParser) -> None:
    """One option per writable field, its help the API's (``null``: the field's default)."""
    fields = JobFieldsSerializer().fields
    for name in FIELDS:
        help_text = str(fields[name].help_text or fields[name].label or name)
        command.add_argument(
            option(name),
            *ALIASES.get(name, ()),
            dest=name,
            default=None,
            help=f"{help_text} ({NULL}: the default).",
        )
