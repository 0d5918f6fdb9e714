"""System checks of the engine: SQLite usable by several processes, counts that can run, a broker
whose client library is installed."""

from __future__ import annotations

import sys

import pytest
from django.test import override_settings

from django_scheduler_api.checks import (
    broker_client_module,
    check_broker_library,
    check_counts,
    check_lookahead,
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


@pytest.mark.parametrize(
    "knobs",
    [
        {"LOOKAHEAD": -1},
        {"LOOKAHEAD_MAX": "2"},
        {"LOOKAHEAD_MAX": None},
        {"LOOKAHEAD": 1, "LOOKAHEAD_MAX": 3.5},
    ],
)
def test_a_lookahead_that_is_not_seconds_or_hands_over_too_early_is_an_error(knobs):
    with override_settings(SCHEDULER_API=knobs):
        (error,) = check_lookahead()
    assert error.id == "django_scheduler_api.E006" and "LOOKAHEAD" in error.msg


@pytest.mark.parametrize(
    "knobs", [{}, {"LOOKAHEAD": 0, "LOOKAHEAD_MAX": 0}, {"LOOKAHEAD": 1, "LOOKAHEAD_MAX": 3}]
)
def test_lookaheads_within_the_limit_pass(knobs):
    with override_settings(SCHEDULER_API=knobs):
        assert check_lookahead() == []


ORM = {"name": "t", "orm": "default"}
REDIS = {"name": "t", "redis": "redis://127.0.0.1:6379/15"}


@pytest.mark.parametrize(
    ("q_cluster", "module"),
    [
        (ORM, None),
        (REDIS, "redis"),
        ({"name": "t"}, "redis"),  # django-q2's default broker is Redis
        ({"name": "t", "django_redis": "default"}, "django_redis"),
        ({"name": "t", "sqs": {"aws_region": "eu-west-1"}}, "boto3"),
        ({"name": "t", "mongo": {"host": "127.0.0.1"}}, "pymongo"),
        ({"name": "t", "iron_mq": {"token": "x"}}, "iron_mq"),
        ({"name": "t", "broker_class": "myproject.brokers.Custom", "orm": "default"}, "myproject.brokers"),
    ],
)
def test_the_broker_module_follows_django_q2s_choice(q_cluster, module):
    assert broker_client_module(q_cluster)[0] == module


def test_a_redis_broker_without_the_redis_library_is_an_error(monkeypatch):
    # None in sys.modules makes `import redis` raise ImportError, as on an install without the extra.
    monkeypatch.setitem(sys.modules, "redis", None)
    with override_settings(Q_CLUSTER=REDIS):
        (error,) = check_broker_library()
    assert error.id == "django_scheduler_api.E003"
    assert "'redis'" in error.msg and "django-scheduler-api[redis]" in error.hint


def test_the_orm_broker_needs_no_library(monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)
    with override_settings(Q_CLUSTER=ORM):
        assert check_broker_library() == []


def test_an_installed_broker_library_passes():
    with override_settings(Q_CLUSTER=REDIS):
        assert check_broker_library() == []


def test_a_missing_custom_broker_module_is_an_error():
    with override_settings(Q_CLUSTER={"name": "t", "broker_class": "no_such_package.brokers.Broker"}):
        (error,) = check_broker_library()
    assert "no_such_package.brokers" in error.msg
