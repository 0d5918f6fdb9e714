"""``manage.py run_scheduler``: the process that fires jobs on time (see ``django_scheduler_api.engine``)."""

from __future__ import annotations

import gc
import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_scheduler_api.declared import sync_declared_jobs
from django_scheduler_api.engine import Scheduler


class Command(BaseCommand):
    help = (
        "Run a scheduler: fire due jobs through django-q2 until SIGTERM or Ctrl-C. Any number may "
        "run at once, on any hosts, against one database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run one pass and exit (for cron or tests).")
        parser.add_argument("--node-name", help="Name in the status and heartbeats (default host:pid).")

    def handle(self, *args: Any, once: bool = False, node_name: str | None = None, **options: Any) -> None:
        _log_to_console(options["verbosity"])
        scheduler = Scheduler(node_name)
        scheduler.install_signal_handlers()
        try:
            # The database may be down when the process starts (a host booting, a supervisor
            # restarting it during an outage): wait for it, as the loop does later.
            report = scheduler.persist(sync_declared_jobs)
            scheduler.persist(scheduler.start)
            if scheduler.stopping:
                return  # stopped while waiting for the database
            declared = len(report.created) + len(report.updated) + len(report.unchanged)
            self.stdout.write(f"Scheduler {scheduler.node} started ({declared} jobs declared in code).")
            for job_id, problem in report.invalid.items():
                self.stderr.write(f"Declared job {job_id} not loaded: {problem}")
            freeze_startup_objects()
            scheduler.run(once=once)
        except Exception as exc:
            # Outages of the database and the broker are survived inside; what reaches here is a
            # programming error, which no retry would cure: end with status 1 and say what it was.
            logging.getLogger(__name__).exception(
                "Scheduler %s stopped by an unexpected error.", scheduler.node
            )
            raise CommandError(f"Scheduler {scheduler.node} stopped by an unexpected error: {exc!r}") from exc
        self.stdout.write(f"Scheduler {scheduler.node} stopped.")


def freeze_startup_objects() -> None:
    """Leave the objects alive once the scheduler has started (Django's, the project's modules and
    settings: hundreds of thousands) out of the garbage collector's full collections.

    A crowd of fires makes tens of thousands of short-lived objects; each full collection it sets
    off walked every object of the process, about a tenth of the time a 10,000-fire pass took
    (BENCHMARKS.md, *Dispatch throughput*). ``gc.freeze`` after a collection, as the Python
    documentation advises for long-lived servers; what the loop makes later is collected as usual.
    """
    gc.collect()
    gc.freeze()


def _log_to_console(verbosity: int) -> None:
    """Show the engine's warnings (and with -v 2 its info) even where the project configures no logging."""
    engine_logger = logging.getLogger("django_scheduler_api")
    if not engine_logger.handlers and not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbosity > 1:
        engine_logger.setLevel(logging.INFO)
