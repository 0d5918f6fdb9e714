"""``manage.py site_jobs``: what the process tests ask of a site's own database (tests/engine/sites.py).

    manage.py site_jobs add --prefix every --count 50 --seconds 6 --fields '{"handler": "tests.sleep"}'
    manage.py site_jobs reset

``add`` creates ``count`` jobs firing every second for ``seconds`` seconds (none: forever) from a whole
second at least ``lead`` seconds ahead of this process's clock, and prints that second (Unix seconds)
as JSON. ``reset`` empties the tables the tests write and the broker's queue.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ, Task

from django_scheduler_api.models import Execution, Job, SchedulerNode
from django_scheduler_api.services import reschedule


class Command(BaseCommand):
    help = "Create the process tests' jobs (add) or empty a site's tables and queue (reset)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["add", "reset"])
        parser.add_argument("--prefix", default="job")
        parser.add_argument("--count", type=int, default=1)
        parser.add_argument("--seconds", type=int, default=None)
        parser.add_argument("--lead", type=float, default=2)
        parser.add_argument("--fields", type=json.loads, default={}, help="Other job fields, as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "reset":
            for model in (Execution, Job, SchedulerNode, Task, OrmQ):
                model.objects.all().delete()
            get_broker().purge_queue()
            return
        now = timezone.now()
        start = now.replace(microsecond=0) + timedelta(seconds=options["lead"] + 1)
        seconds = options["seconds"]
        end = start + timedelta(seconds=seconds - 1) if seconds else None
        fields = {"handler": "tests.echo", **options["fields"]}
        jobs = [
            reschedule(
                Job(
                    id=f"{options['prefix']}.{i:05d}",
                    cron_expression="* * * * * ?",
                    start_time=start,
                    end_time=end,
                    **fields,
                ),
                now,
            )
            for i in range(options["count"])
        ]
        Job.objects.bulk_create(jobs, batch_size=1000)
        self.stdout.write(json.dumps(round(start.timestamp())))
