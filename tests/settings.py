"""Settings for the test suite.

Environment variables choose the services, so one suite runs everywhere:

- ``SCHEDULER_TEST_DB``: ``sqlite`` (default), ``postgres`` (127.0.0.1:5432, user ``postgres``;
  ``PGHOST``/``PGPORT``/``PGUSER``/``PGPASSWORD``/``PGDATABASE`` override) or ``mariadb``
  (127.0.0.1:3306, user ``root``, no password; ``MARIADB_HOST``/``MARIADB_PORT``/``MARIADB_USER``/
  ``MARIADB_PASSWORD``/``MARIADB_DATABASE`` override).
- ``SCHEDULER_TEST_BROKER``: ``orm`` (default, django-q2's ORM broker) or ``redis``
  (``REDIS_URL``, default ``redis://127.0.0.1:6379/15``).
- ``SCHEDULER_TEST_DB_NAME``: set by the fixtures for the processes they start (qcluster,
  run_scheduler), so those processes use the test database the suite created.
- ``SCHEDULER_TEST_SQLITE``: the SQLite test database file (default: one per suite process in /tmp).
- ``SCHEDULER_TEST_MISFIRE_THRESHOLD``: the misfire threshold in seconds (default 60), lowered by the
  engine's misfire tests for the scheduler processes they start.
- ``SCHEDULER_TEST_Q_WORKERS``: django-q2 workers of a test ``qcluster`` (default 2);
  ``SCHEDULER_TEST_Q_SAVE_LIMIT``: successful task results it keeps (default 250, -1 none).
- ``SCHEDULER_TEST_Q_SYNC``: ``0`` (default), django-q2's tasks go to the broker as in production
  (a test runs them with ``tests.support.run_tasks`` or a real ``qcluster``); ``1`` turns on
  django-q2's ``sync`` mode, which the tests of that mode set for themselves.
"""

import os
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
ROOT_URLCONF = "tests.urls"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_q",
    "django_scheduler_api",
    "tests.testapp",
]

MIDDLEWARE = [
    # First, as the README shows: its JSON answers come before any other middleware's.
    "django_scheduler_api.middleware.LocalOnlyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_db = os.environ.get("SCHEDULER_TEST_DB", "sqlite")
_db_name = os.environ.get("SCHEDULER_TEST_DB_NAME")
if _db == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _db_name or os.environ.get("PGDATABASE", "scheduler"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            # One test database per suite process: suites running side by side never share one.
            "TEST": {"NAME": f"test_scheduler_{os.getpid()}"},
        }
    }
elif _db == "mariadb":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": _db_name or os.environ.get("MARIADB_DATABASE", "test"),
            "USER": os.environ.get("MARIADB_USER", "root"),
            "PASSWORD": os.environ.get("MARIADB_PASSWORD", ""),
            "HOST": os.environ.get("MARIADB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("MARIADB_PORT", "3306"),
            # The settings docs/deployment.rst recommends: full Unicode, READ COMMITTED as on PostgreSQL.
            "OPTIONS": {"charset": "utf8mb4", "isolation_level": "read committed"},
            # The server's default collation (case-insensitive) on purpose: the app must not rely on
            # the database's collation for case-sensitive job ids.
            "TEST": {"NAME": f"test_scheduler_{os.getpid()}", "CHARSET": "utf8mb4"},
        }
    }
else:
    # A file, not :memory:, so the qcluster and scheduler processes the tests start share it.
    # SCHEDULER_TEST_SQLITE moves it, so that two suites can run side by side in one checkout.
    _test_file = os.environ.get(
        "SCHEDULER_TEST_SQLITE",
        os.path.join(tempfile.gettempdir(), f"scheduler-tests-{os.getpid()}.sqlite3"),
    )
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _db_name or _test_file,
            "TEST": {"NAME": _test_file},
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

Q_CLUSTER = {
    # The cluster name is also the queue the tasks go to: one per suite process (pytest-xdist's
    # workers, suites side by side), set in the environment so that the qcluster and run_scheduler
    # a test starts use the same one; process tests give theirs a name of their own.
    "name": os.environ.setdefault("SCHEDULER_TEST_Q_NAME", f"scheduler-tests-{os.getpid()}"),
    "workers": int(os.environ.get("SCHEDULER_TEST_Q_WORKERS", "2")),
    # django-q2 keeps this many successful task results (-1: none; the engine's load tests use it).
    "save_limit": int(os.environ.get("SCHEDULER_TEST_Q_SAVE_LIMIT", "250")),
    "timeout": 60,
    "retry": 120,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": float(os.environ.get("SCHEDULER_TEST_Q_POLL", "0.05")),
    # Off, as in production: tasks go through the broker (tests.support.run_tasks, a real qcluster).
    "sync": os.environ.get("SCHEDULER_TEST_Q_SYNC", "0") == "1",
    "log_level": os.environ.get("SCHEDULER_TEST_Q_LOG_LEVEL", "WARNING"),
}
if os.environ.get("SCHEDULER_TEST_BROKER", "orm") == "redis":
    import redis as _redis_lib  # noqa: F401  (fail early with a clear ImportError)

    Q_CLUSTER["redis"] = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
else:
    Q_CLUSTER["orm"] = "default"

SCHEDULER_API = {
    "HEARTBEAT_INTERVAL": 1,
    "NODE_TIMEOUT": 5,
    "MAX_SLEEP": 0.5,
    "ENQUEUE_GRACE": 2,
    "MISFIRE_THRESHOLD": float(os.environ.get("SCHEDULER_TEST_MISFIRE_THRESHOLD", "60")),
    "LOOKAHEAD": float(os.environ.get("SCHEDULER_TEST_LOOKAHEAD", "0.1")),
    "LOOKAHEAD_MAX": float(os.environ.get("SCHEDULER_TEST_LOOKAHEAD_MAX", "2")),
}

REST_FRAMEWORK = {"TEST_REQUEST_DEFAULT_FORMAT": "json"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # django-q2 applies its log_level only when no ancestor logger has handlers; set it here.
    "loggers": {"django-q": {"level": Q_CLUSTER["log_level"]}},
}
