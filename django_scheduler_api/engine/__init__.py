"""The scheduling engine: the ``run_scheduler`` process that fires every job on time, exactly once.

Like Quartz, it keeps its concepts apart:

- ``store``: the only module that talks SQL: claim due jobs, record their executions, the outbox,
  lost executions, pruning, and the worker's claim of its executions and write of their outcomes.
  Row locks (``FOR UPDATE SKIP LOCKED``) on PostgreSQL, short ``IMMEDIATE`` transactions on SQLite;
  the unique constraint on (job, scheduled fire time) on both.
- ``dispatch``: sending. Hands recorded executions to django-q2 in bulk, packed into tasks, and
  marks them sent.
- ``worker``: the django-q2 task that runs executions on a worker and records their outcomes, with
  ``handler_threads``, a worker's pool of threads for the handlers of one instant.
- ``heartbeat``: the ``SchedulerNode`` row that tells the API which schedulers are alive.
- ``loop``: the ``Scheduler`` that ties them together: tick, sleep until the next fire, stop on a signal.

The fire-time arithmetic itself (cron, window, misfires, overlap) is pure and lives in ``planning``;
``wakeup`` (PostgreSQL LISTEN/NOTIFY) is also called by ``services``, whose changes wake the loop. The
engine never imports ``services`` or a front end: jobs declared in code are loaded by
``django_scheduler_api.declared``, which the ``run_scheduler`` command calls.
"""

from django_scheduler_api.engine.loop import Scheduler

__all__ = ["Scheduler"]
