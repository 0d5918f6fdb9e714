"""The one place that reads the ``SCHEDULER_API`` setting.

Everything configurable lives in one dict so that a project's settings show the whole scheduler at a
glance. Code reads values through ``scheduler_settings.NAME``; the object re-reads Django settings when
``override_settings`` changes them, so tests need no restart.

    SCHEDULER_API = {
        "ALLOWED_NETWORKS": ["127.0.0.0/8", "::1/128"],
        "MISFIRE_THRESHOLD": 60,
    }
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

SETTING_NAME = "SCHEDULER_API"

DEFAULTS: dict[str, Any] = {
    # Access control (docs/api.rst): networks whose clients may use the API, and the proxies whose
    # forwarding header is believed.
    "ALLOWED_NETWORKS": ["127.0.0.0/8", "::1/128"],
    "TRUSTED_PROXIES": [],
    # The one forwarding header the trusted proxies set (X-Forwarded-For, Forwarded or X-Real-IP);
    # the others, which a client could have sent through the proxy, make the request a 403.
    "FORWARDED_HEADER": "X-Forwarded-For",
    # True only when something else restricts who reaches the API: turns off the system check
    # (E004) that refuses to start without LocalOnlyMiddleware.
    "ALLOW_WITHOUT_GUARD": False,
    # Largest request body the API reads, in bytes; larger bodies get 413 before parsing.
    "MAX_BODY_SIZE": 1024 * 1024,
    # The zone a job's cron expression is read in when the job names none.
    "DEFAULT_TIMEZONE": "UTC",
    # Paging of list endpoints.
    "DEFAULT_TAKE": 10,
    "MAX_TAKE": 100,
    # A fire later than this many seconds is a misfire and follows the job's misfire policy.
    "MISFIRE_THRESHOLD": 60,
    # Scheduler processes: heartbeat period, how long a silent node still counts as alive,
    # the longest the loop sleeps between looks at the database, and how many due jobs one claim takes.
    "HEARTBEAT_INTERVAL": 5,
    "NODE_TIMEOUT": 30,
    "MAX_SLEEP": 1.0,
    "CLAIM_BATCH_SIZE": 500,
    # Threads a scheduler claims a crowd of due jobs with (more than one claim batch), each on its
    # own database connection, on databases whose claims skip each other's rows (PostgreSQL,
    # MariaDB); 1: one claim at a time.
    "DISPATCH_THREADS": 2,
    # On PostgreSQL, a job created, changed or resumed wakes sleeping schedulers at once (LISTEN/NOTIFY)
    # instead of within MAX_SLEEP.
    "LISTEN_NOTIFY": True,
    # Fires sent together share django-q2 tasks of up to this many executions, spread over the
    # cluster's workers; a task starts its handlers together, each on a thread of its worker.
    # 1: one task (and one worker process) per execution.
    "TASK_BATCH_SIZE": 25,
    # Seconds before a fire instant that a scheduler claims it and hands it to the workers, which claim
    # its executions just before the instant and start the handlers at it (0: all of it at the
    # instant). A polling broker's poll and the time a crowd of fires takes to send are added, up to
    # LOOKAHEAD_MAX seconds more (docs/engine.rst, "Handing over early").
    "LOOKAHEAD": 0.1,
    "LOOKAHEAD_MAX": 2.0,
    # An execution recorded but never sent (its scheduler died first), or sent but not claimed by a
    # worker (the broker lost the task), is sent again after this many seconds (the outbox).
    "ENQUEUE_GRACE": 10,
    # PostgreSQL: the longest a claim transaction may wait for a lock, run a statement or sit idle
    # (a scheduler frozen or cut off while holding job rows): the database then ends it, rolls the
    # claim back and the rows go to another scheduler. Seconds.
    "CLAIM_TIMEOUT": 5,
    # Each django-q2 worker process records a heartbeat (WorkerNode) this often; a running execution
    # whose worker has been silent for WORKER_TIMEOUT seconds is lost (its worker died). Quartz's
    # cluster nodes check in every 7.5 s.
    "WORKER_HEARTBEAT_INTERVAL": 7.5,
    "WORKER_TIMEOUT": 20,
    # An execution running longer than this many seconds is taken for lost (its worker died), and so
    # is one sent to django-q2 this long ago that never started (django-q2 lost its task).
    "EXECUTION_TIMEOUT": 3600,
    # Seconds between a scheduler's sweeps for lost executions, old executions and dead nodes.
    "MAINTENANCE_INTERVAL": 60,
    # Finished executions older than this many seconds are pruned; None keeps them forever.
    "EXECUTION_RETENTION": 30 * 24 * 3600,
    # django-q2: the cluster (queue) name tasks are sent to; None uses Q_CLUSTER's own name.
    "Q_CLUSTER_NAME": None,
    # Metrics and dashboard: the recent window (seconds) of the fire lag and duration histograms, and
    # how many seconds a computed answer of the metrics endpoint is reused (the database is read at
    # most once per this many seconds and cache, whatever scrapes it).
    "METRICS_WINDOW": 900,
    "METRICS_CACHE_TTL": 5,
    # What a handler logs while it runs is kept on its execution: up to this many bytes (the rest is
    # cut, with a note saying so), from this level up (None: only what LOGGING already lets through).
    "HANDLER_LOG_LIMIT": 64 * 1024,
    "HANDLER_LOG_LEVEL": "INFO",
    # The most fire times one backfill may run (docs/scheduling.rst, "Backfill"): a longer range is
    # refused, so that a typo in a year cannot queue millions of executions.
    "BACKFILL_LIMIT": 1000,
    # The module looked for in every installed app to register handlers (like admin.py).
    "HANDLER_MODULE": "handlers",
    # Jobs declared in code, upserted when a scheduler starts: a list of dicts with the job fields.
    "JOBS": [],
}


class SchedulerSettings:
    """Attribute access to ``SCHEDULER_API`` merged over ``DEFAULTS``, cached until settings change."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        return getattr(settings, SETTING_NAME, None) or {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"Invalid {SETTING_NAME} setting: {name!r}")
        if self._cache is None:
            self._cache = {**DEFAULTS, **self.user_settings}
        return self._cache[name]

    @property
    def misfire_threshold(self) -> timedelta:
        return timedelta(seconds=self.MISFIRE_THRESHOLD)

    def unknown_keys(self) -> list[str]:
        """Keys in the user's dict that are not settings (a typo the system checks report)."""
        return sorted(set(self.user_settings) - set(DEFAULTS))

    def reload(self) -> None:
        self._cache = None


scheduler_settings = SchedulerSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        scheduler_settings.reload()


setting_changed.connect(_reload)
