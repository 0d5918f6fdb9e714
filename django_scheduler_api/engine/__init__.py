"""The scheduling engine: the ``run_scheduler`` process that fires every job on time, exactly once.

Like Quartz, it keeps its concepts apart:

- ``store``: the only module that talks SQL: claim due jobs, record their executions, the outbox,
  lost executions, pruning. Row locks (``FOR UPDATE SKIP LOCKED``) on PostgreSQL, short ``IMMEDIATE``
  transactions on SQLite; the unique constraint on (job, scheduled fire time) on both.
- ``dispatch``: hands recorded executions to django-q2 in bulk, packed into tasks, and marks them sent.
- ``heartbeat``: the ``SchedulerNode`` row that tells the API which schedulers are alive.
- ``declared``: jobs declared in code (``SCHEDULER_API["JOBS"]``, ``@handler(schedule=...)``).
- ``loop``: the ``Scheduler`` that ties them together: tick, sleep until the next fire, stop on a signal.

The fire-time arithmetic itself (cron, window, misfires, overlap) is pure and lives in ``planning``;
``wakeup`` (PostgreSQL LISTEN/NOTIFY) is shared with ``services``, whose changes wake the loop.
"""

from django_scheduler_api.engine.loop import Scheduler

__all__ = ["Scheduler"]
