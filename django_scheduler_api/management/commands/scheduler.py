"""``manage.py scheduler``: manage jobs from a shell, the command-line twin of the REST API.

    python manage.py scheduler status
    python manage.py scheduler create reports.daily --handler example.hello --cron "0 15 10 ? * 2-6"
    python manage.py scheduler update reports.daily --description "The daily report"
    python manage.py scheduler list --state paused --json
    python manage.py scheduler trigger reports.daily --data '{"dry_run": true}'
    python manage.py scheduler preview "0 15 10 ? * 2-6" --timezone Europe/Berlin --count 3
    python manage.py scheduler backfill reports.daily --start 2026-11-02T00:00Z --end 2026-11-08T23:59:59Z

The logic lives in ``django_scheduler_api.cli``; this module only wires it to Django.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_scheduler_api.cli import api, commands, parser


class Command(BaseCommand):
    help = (
        "Manage scheduler jobs like the REST API does: status, list, show, pause, resume, trigger, "
        "delete, preview, calendars, backfill, create, update. Tables by default, the API's JSON with "
        "--json; errors exit non-zero."
    )

    def add_arguments(self, parser_: CommandParser) -> None:
        parser.add_subcommands(parser_)

    def handle(self, *args: Any, **options: Any) -> None:
        output = commands.run(options)
        self.stdout.write(api.render(output.data) if options["json"] else output.text)
