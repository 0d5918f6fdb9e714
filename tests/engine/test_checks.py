"""The system check that keeps SQLite usable by several processes (scheduler, workers, web server)."""

from __future__ import annotations

from django_scheduler_api.checks import check_sqlite_transaction_mode, sqlite_transaction_warnings

SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": "x.sqlite3"}


def test_sqlite_without_immediate_transactions_is_reported():
    (warning,) = sqlite_transaction_warnings(SQLITE)
    assert warning.id == "django_scheduler_api.W005"
    assert sqlite_transaction_warnings({**SQLITE, "OPTIONS": {"transaction_mode": "IMMEDIATE"}}) == []


def test_other_databases_and_the_test_settings_pass():
    assert sqlite_transaction_warnings({"ENGINE": "django.db.backends.postgresql"}) == []
    assert check_sqlite_transaction_mode() == []
