"""System checks of the engine: SQLite usable by several processes, counts that can run."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_scheduler_api.checks import (
    check_counts,
    check_sqlite_transaction_mode,
    sqlite_transaction_warnings,
)

SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": "x.sqlite3"}


def test_sqlite_without_immediate_transactions_is_reported():
    (warning,) = sqlite_transaction_warnings(SQLITE)
    assert warning.id == "django_scheduler_api.W005"
    assert sqlite_transaction_warnings({**SQLITE, "OPTIONS": {"transaction_mode": "IMMEDIATE"}}) == []


def test_other_databases_and_the_test_settings_pass():
    assert sqlite_transaction_warnings({"ENGINE": "django.db.backends.postgresql"}) == []
    assert check_sqlite_transaction_mode() == []


@pytest.mark.parametrize("value", [0, -3, 2.5, "25", True, None])
def test_a_count_setting_that_is_not_a_positive_whole_number_is_an_error(value):
    with override_settings(SCHEDULER_API={"TASK_BATCH_SIZE": value}):
        (error,) = check_counts()
    assert error.id == "django_scheduler_api.E002" and "TASK_BATCH_SIZE" in error.msg


def test_the_default_counts_pass():
    assert check_counts() == []
