"""Retry arithmetic: which finished execution asks for another attempt, and when that attempt is due.

Pure functions over plain values (no database), like ``planning``: the worker and the scheduler's
sweeps record the next attempt with them (``engine.store``), and the API, the admin and the CLI
describe a policy with them, so every process computes the same instants (docs/scheduling.rst,
"Retries").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django_scheduler_api.models import MAX_INTERVAL, Execution


@dataclass(frozen=True)
class RetryPolicy:
    """A job's retry fields (Temporal's RetryPolicy): ``max_attempts`` counts the first attempt."""

    max_attempts: int = 1
    initial_delay: int = 10
    backoff_coefficient: float = 2.0
    max_delay: int | None = None
    on_lost: bool = False

    @classmethod
    def of(cls, job: Any) -> RetryPolicy:
        """The policy of a job (or anything with the job's ``retry_*`` attributes)."""
        return cls(
            max_attempts=job.retry_max_attempts,
            initial_delay=job.retry_initial_delay,
            backoff_coefficient=job.retry_backoff_coefficient,
            max_delay=job.retry_max_delay,
            on_lost=job.retry_on_lost,
        )

    @property
    def retries(self) -> bool:
        """Whether the policy ever asks for a second attempt."""
        return self.max_attempts > 1


def delay(policy: RetryPolicy, attempt: int) -> timedelta:
    """How long after attempt ``attempt`` (1: the first) ended the next one is due:
    ``min(initial * coefficient ** (attempt - 1), max)``, in whole milliseconds.

    Computed with logarithms where the power would overflow a float (1000 attempts at a
    coefficient of 100), and never longer than ``MAX_INTERVAL`` seconds, so no datetime overflows.
    """
    ceiling = float(MAX_INTERVAL if policy.max_delay is None else policy.max_delay)
    initial = float(policy.initial_delay)
    exponent = attempt - 1
    if initial == 0 or policy.backoff_coefficient == 1 or exponent == 0:
        seconds = initial
    elif exponent * math.log(policy.backoff_coefficient) >= math.log(ceiling / initial):
        seconds = ceiling
    else:
        seconds = initial * policy.backoff_coefficient**exponent
    return timedelta(milliseconds=round(min(seconds, ceiling) * 1000))


def retried_statuses(policy: RetryPolicy) -> tuple[str, ...]:
    """The outcomes that ask for another attempt: ``failed``, and ``lost`` if the policy says so."""
    if policy.on_lost:
        return (Execution.Status.FAILED, Execution.Status.LOST)
    return (Execution.Status.FAILED,)


def next_attempt(execution: Execution, policy: RetryPolicy, finished_at: datetime) -> Execution | None:
    """The unsaved next attempt of a finished ``execution``, due ``delay`` after ``finished_at``;
    None when its outcome is not retried or it was the last attempt the policy allows.

    The attempt repeats the fire: the same handler, data, timeout and neighbouring fire times; its
    ``scheduled_fire_time`` (and ``fire_time``) is the instant it is due.
    """
    if execution.status not in retried_statuses(policy) or execution.attempt >= policy.max_attempts:
        return None
    due = finished_at + delay(policy, execution.attempt)
    return Execution(
        job_id=execution.job_id,
        handler=execution.handler,
        trigger=Execution.Trigger.RETRY,
        attempt=execution.attempt + 1,
        first_execution_id=execution.chain_id,
        scheduled_fire_time=due,
        fire_time=due,
        previous_fire_time=execution.previous_fire_time,
        next_fire_time=execution.next_fire_time,
        data=dict(execution.data or {}),
        timeout=execution.timeout,
    )


def describe(policy: RetryPolicy) -> str:
    """The policy in words, for the admin and the CLI: ``No retries`` or ``Up to 4 attempts, 10 s
    after a failure, then times 2 (at most 300 s)``."""
    if not policy.retries:
        return "No retries"
    outcomes = "a failure or a loss" if policy.on_lost else "a failure"
    words = f"Up to {policy.max_attempts} attempts, {_seconds(policy.initial_delay)} after {outcomes}"
    if policy.backoff_coefficient != 1 and policy.max_attempts > 2:
        words += f", then times {policy.backoff_coefficient:g}"
    if policy.max_delay is not None:
        words += f" (at most {_seconds(policy.max_delay)})"
    return words


def _seconds(value: float) -> str:
    return f"{value:g} s"
