"""Settings of the chaos suite's processes: its own PostgreSQL and Redis, production-like defaults.

The harness passes the addresses through the environment (a scheduler in a network namespace
reaches the services at the host's end of its veth pair). The scheduler settings are the
defaults of ``django_scheduler_api.conf`` except where an environment variable says otherwise, so
the suite measures what a deployment gets.
"""

import os

SECRET_KEY = "chaos-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_q",
    "django_scheduler_api",
    "bench.chaos",
]

# No web server runs in the chaos suite; the guard is there because the system checks ask for it.
MIDDLEWARE = ["django_scheduler_api.middleware.LocalOnlyMiddleware"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "chaos",
        "USER": "postgres",
        "HOST": os.environ.get("CHAOS_PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("CHAOS_PGPORT", "5432"),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            # Seen in pg_stat_activity, so the harness finds a scheduler's claim transaction.
            "application_name": os.environ.get("CHAOS_ROLE", "chaos"),
            # A connection whose peer vanished (a partition) fails within seconds, not after the
            # kernel's 15 minutes of retransmissions.
            "connect_timeout": 5,
            "tcp_user_timeout": 10000,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
        },
    }
}

Q_CLUSTER = {
    "name": "chaos",
    "workers": 4,
    "redis": os.environ.get("CHAOS_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "save_limit": -1,
    "timeout": 60,
    "retry": 120,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.1,
    "log_level": "WARNING",
}

SCHEDULER_API = {
    key: float(os.environ[f"CHAOS_{key}"])
    for key in ("NODE_TIMEOUT", "ENQUEUE_GRACE", "HEARTBEAT_INTERVAL", "MISFIRE_THRESHOLD")
    if os.environ.get(f"CHAOS_{key}")
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"django-q": {"level": "WARNING"}},
}
