"""System checks (``manage.py check``): configuration mistakes found before the first fire."""

from __future__ import annotations

import importlib
import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from django_scheduler_api.conf import SETTING_NAME, scheduler_settings
from django_scheduler_api.middleware import FORWARDING_HEADERS

MIDDLEWARE_PATH = "django_scheduler_api.middleware.LocalOnlyMiddleware"


@register(Tags.security)
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The API has no login: without the guard, whoever reaches the server can run any handler."""
    if MIDDLEWARE_PATH in settings.MIDDLEWARE or scheduler_settings.ALLOW_WITHOUT_GUARD:
        return []
    return [
        Error(
            "The scheduler API is not restricted to the local host: anyone who reaches the server "
            "can create jobs and run any registered handler.",
            hint=f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE, or, if another layer restricts access, "
            f"set {SETTING_NAME}['ALLOW_WITHOUT_GUARD'] = True.",
            id="django_scheduler_api.E004",
        )
    ]


@register()
def check_q_cluster(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if getattr(settings, "Q_CLUSTER", None):
        return []
    return [
        Warning(
            "django-q2 is not configured: jobs will be queued but no worker will run them.",
            hint="Define Q_CLUSTER (for example {'name': 'scheduler', 'orm': 'default'}).",
            id="django_scheduler_api.W002",
        )
    ]


@register()
def check_settings_keys(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    return [
        Warning(
            f"Unknown key {key!r} in {SETTING_NAME}.",
            hint="See django_scheduler_api.conf.DEFAULTS for the settings that exist.",
            id="django_scheduler_api.W003",
        )
        for key in scheduler_settings.unknown_keys()
    ]


@register()
def check_declared_jobs(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    from django_scheduler_api.registry import registry

    problems = []
    for job in scheduler_settings.JOBS:
        name = job.get("handler") if isinstance(job, dict) else None
        if name not in registry:
            problems.append(
                Warning(
                    f"Job {job.get('id') if isinstance(job, dict) else job!r} in "
                    f"{SETTING_NAME}['JOBS'] names unknown handler {name!r}.",
                    hint="Registered handlers: " + (", ".join(registry.names()) or "none"),
                    id="django_scheduler_api.W004",
                )
            )
    return problems


@register(Tags.security)
def check_networks(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """ALLOWED_NETWORKS and TRUSTED_PROXIES must be IP networks and FORWARDED_HEADER a forwarding
    header the guard reads, or the guard would fail on each request."""
    problems = []
    for key in ("ALLOWED_NETWORKS", "TRUSTED_PROXIES"):
        value = getattr(scheduler_settings, key)
        entries = value if isinstance(value, list | tuple) else [value]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except (TypeError, ValueError):
                problems.append(
                    Error(
                        f"{SETTING_NAME}[{key!r}] holds {entry!r}, which is not an IP network.",
                        hint="Use addresses or CIDR networks such as '127.0.0.0/8' or '::1'.",
                        id="django_scheduler_api.E001",
                    )
                )
    header = scheduler_settings.FORWARDED_HEADER
    if not isinstance(header, str) or header.lower() not in FORWARDING_HEADERS:
        problems.append(
            Error(
                f"{SETTING_NAME}['FORWARDED_HEADER'] is {header!r}.",
                hint="Name the header your proxy sets: 'X-Forwarded-For', 'Forwarded' or 'X-Real-IP'.",
                id="django_scheduler_api.E005",
            )
        )
    return problems


@register()
def check_sqlite_transaction_mode(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    return sqlite_transaction_warnings(settings.DATABASES.get("default", {}))


def sqlite_transaction_warnings(database: dict[str, Any]) -> list[Warning]:
    """The scheduler's claim reads then writes in one transaction; on SQLite that transaction must
    take the write lock when it begins, or a concurrent writer makes it fail with "database is locked"."""
    if not database.get("ENGINE", "").endswith("sqlite3"):
        return []
    if str(database.get("OPTIONS", {}).get("transaction_mode", "")).upper() == "IMMEDIATE":
        return []
    return [
        Warning(
            "SQLite without transaction_mode IMMEDIATE: the scheduler, the workers and the web server "
            "can fail each other's transactions with 'database is locked'.",
            hint="Add 'OPTIONS': {'transaction_mode': 'IMMEDIATE', 'timeout': 30} to DATABASES['default'].",
            id="django_scheduler_api.W005",
        )
    ]


# Settings that count things: zero, a negative or a fraction would break the engine or the paging.
COUNTS = (
    "CLAIM_BATCH_SIZE",
    "DISPATCH_THREADS",
    "TASK_BATCH_SIZE",
    "DEFAULT_TAKE",
    "MAX_TAKE",
    "METRICS_WINDOW",
    "HANDLER_LOG_LIMIT",
    "BACKFILL_LIMIT",
)


@register()
def check_counts(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [
        Error(
            f"{SETTING_NAME}[{key!r}] is {getattr(scheduler_settings, key)!r}.",
            hint="Use a whole number of 1 or more.",
            id="django_scheduler_api.E002",
        )
        for key in COUNTS
        if not _is_count(getattr(scheduler_settings, key))
    ]


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


# The most seconds ahead of its instant a task may reach a worker: it waits for the instant within
# django-q2's per-task timeout, which allows ``deadlines.TASK_MARGIN`` (5 s) beyond the handler's.
HANDOVER_LIMIT = 4


@register()
def check_lookahead(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """``LOOKAHEAD`` and ``LOOKAHEAD_MAX`` are seconds from 0, together at most ``HANDOVER_LIMIT``."""
    values = [getattr(scheduler_settings, key) for key in ("LOOKAHEAD", "LOOKAHEAD_MAX")]
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in values)
    if numbers and sum(values) <= HANDOVER_LIMIT:
        return []
    return [
        Error(
            f"{SETTING_NAME}['LOOKAHEAD'] and ['LOOKAHEAD_MAX'] are {values[0]!r} and {values[1]!r}.",
            hint=f"Use seconds from 0, together at most {HANDOVER_LIMIT}: a task handed over earlier "
            "would wait for its instant past the time django-q2 allows it.",
            id="django_scheduler_api.E006",
        )
    ]


@register()
def check_broker_library(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The broker django-q2 will use must be importable: without its client library the scheduler
    would record a fire and then fail to send it, at the first fire rather than at deployment."""
    module, extra = broker_client_module(getattr(settings, "Q_CLUSTER", None) or {})
    if module is None:
        return []
    try:
        importlib.import_module(module)
    except ImportError as error:
        hint = f"pip install {extra}" if extra else f"Install the package that provides {module!r}."
        return [
            Error(
                f"Q_CLUSTER selects a django-q2 broker that needs {module!r}, which cannot be imported "
                f"({error}).",
                hint=hint + " Or use the database as the broker: Q_CLUSTER['orm'] = 'default'.",
                id="django_scheduler_api.E003",
            )
        ]
    return []


def broker_client_module(q_cluster: dict[str, Any]) -> tuple[str | None, str | None]:
    """The module the configured broker imports, and what to pip install for it.

    Follows the order in which ``django_q.brokers.get_broker`` chooses: a custom class, IronMQ, SQS,
    the ORM, MongoDB, and otherwise Redis, which is django-q2's default even when no ``redis`` key is set.
    """
    if q_cluster.get("broker_class"):
        return str(q_cluster["broker_class"]).rpartition(".")[0], None
    if q_cluster.get("iron_mq"):
        return "iron_mq", "iron-mq"
    if isinstance(q_cluster.get("sqs"), dict):
        return "boto3", "boto3"
    if q_cluster.get("orm"):
        return None, None
    if q_cluster.get("mongo"):
        return "pymongo", "pymongo"
    if q_cluster.get("django_redis"):
        return "django_redis", "django-redis"
    return "redis", "'django-scheduler-api[redis]'"


@register(Tags.database)
def check_stored_ids(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Warning]:
    """Rows whose id or group the id rule refuses (stored before ids matched whole strings, issue
    21): the API cannot name them, so their jobs fire on where nobody can pause them through it.
    A database check: ``manage.py check --database default`` and ``migrate`` run it."""
    from django.db import DatabaseError

    from django_scheduler_api import services

    if not databases or "default" not in databases:
        return []
    try:
        found = services.ids_breaking_the_rule()
    except DatabaseError:  # not migrated yet: nothing stored to report
        return []
    return [
        Warning(
            f"Stored {kind} that no request can name (the id rule refuses them): "
            + ", ".join(repr(value) for value in values),
            hint="Delete such a job or calendar in the admin or with `manage.py scheduler delete ID` "
            "(the CLI looks stored ids up as they are) and add it again under a valid id; give a job "
            "with such a group a valid one (the admin, or PATCH its group).",
            id="django_scheduler_api.W006",
        )
        for kind, values in found.items()
        if values
    ]
