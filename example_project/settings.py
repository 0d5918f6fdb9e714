"""Settings of the example project: SQLite, django-q2's ORM broker, local names only.

Production differs in DATABASES (PostgreSQL) and Q_CLUSTER (the Redis broker); see README.rst.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-secret")
# Off unless asked for: Django's debug pages show settings and environment to whoever gets an error
# page, a DNS-rebinding page included. DJANGO_DEBUG=1 turns it on for development.
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
USE_TZ = True
TIME_ZONE = "UTC"
# Local names only: a DNS-rebinding page that reaches the server under another name gets 400.
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

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
    "example_project.example",
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
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DB", str(BASE_DIR / "db.sqlite3")),
        # The web server, the scheduler and the workers write to one file: wait for locks, and
        # take the write lock when a transaction starts so two writers never deadlock.
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}

STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-q2 runs the jobs; the ORM broker keeps the embedded setup free of other services.
Q_CLUSTER = {
    "name": "scheduler",
    "orm": "default",
    "workers": 2,
    "timeout": 300,
    "retry": 600,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.1,
}

SCHEDULER_API = {
    "DEFAULT_TIMEZONE": "UTC",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_scheduler_api": {"handlers": ["console"], "level": "INFO"},
        "example_project": {"handlers": ["console"], "level": "INFO"},
    },
}
