"""Deprecated: the django-q2 task's former dotted paths, kept for tasks already waiting in a broker.

Tasks sent by earlier releases name ``django_scheduler_api.execution.run_executions`` (or, before
fires were packed into tasks, ``run_execution``); a worker imports that path when it runs them.
The task now lives in ``django_scheduler_api.engine.worker`` (docs/engine.rst, *Modules*). Nothing
in the package imports this module; it will be removed in a later release, once no broker can hold
such a task (see CHANGELOG.rst).
"""

from django_scheduler_api.engine.worker import run_execution, run_executions

__all__ = ["run_execution", "run_executions"]
