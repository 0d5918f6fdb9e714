"""Signals for integrators, sent by whichever process does the work (as Django's and django-q2's are).

- ``execution_started(sender=Execution, execution)``: in the django-q2 worker, just before a handler
  runs, once the execution is claimed (``status`` is ``running``, ``started_at`` set).
- ``execution_finished(sender=Execution, execution, status)``: in the worker, once the outcome is
  stored: ``status`` is ``succeeded`` or ``failed`` (``skipped`` for a fire the worker dropped as a
  misfire) and ``execution`` carries the outcome's fields (``error``, ``traceback``,
  ``duration_ms``, ``log``...).
- ``job_paused(sender=Job, job)`` / ``job_resumed(sender=Job, job)``: in the process that paused or
  resumed the job (the web server for the API and the admin, the CLI's process), after the change is
  committed, once per job whose state changed (pausing a paused job sends nothing). A change of
  ``state`` through a job's PATCH or the admin's form counts as well.

Receivers run in that process, on its thread; one that raises is logged and the others still run
(``send_robust``): a broken receiver never fails an execution or a request. Connect them in an
``AppConfig.ready``, as any Django signal (see docs/observability.rst for an example).
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

logger = logging.getLogger(__name__)

execution_started = Signal()
execution_finished = Signal()
job_paused = Signal()
job_resumed = Signal()


def send(signal: Signal, sender: type, **kwargs: Any) -> None:
    """Send ``signal`` to every receiver; log (and swallow) what a receiver raises."""
    for receiver, result in signal.send_robust(sender, **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "A receiver of a scheduler signal failed: %r",
                receiver,
                exc_info=(type(result), result, result.__traceback__),
            )
