"""Which errors come from the outside world (and are survived), and which are the engine's own.

A scheduler or a worker outlives its database and its broker: a restart, a dropped connection, a
timeout, a refused connection are logged and tried again after a back-off. Anything else is a
programming error, which ends the process with a message rather than loop on it for ever.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError

# Error classes of client libraries, looked up only if the library is loaded (a project without
# Redis never imports it; if it is not loaded, none of its errors can be raised).
_CLIENT_ERRORS = (("redis.exceptions", "RedisError"), ("psycopg", "Error"), ("psycopg2", "Error"))

# The first wait after an error, and the longest: waits double in between.
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 5.0


class BrokerError(Exception):
    """An exception django-q2's broker raised (``from_broker``): each broker raises its client
    library's own (``redis``, ``botocore``, a database's for the ORM broker), all outages to us."""


@contextmanager
def from_broker() -> Iterator[None]:
    """Around calls into django-q2's broker: any exception from it is a ``BrokerError``."""
    try:
        yield
    except transient_errors():
        raise
    except Exception as exc:
        raise BrokerError(f"{type(exc).__name__}: {exc}") from exc


def transient_errors() -> tuple[type[BaseException], ...]:
    """Database errors, socket errors (``OSError``: refused, reset, timed out), broker errors and
    the errors of the database and broker client libraries that are loaded."""
    classes: list[type[BaseException]] = [DatabaseError, OSError, BrokerError]
    for module_name, name in _CLIENT_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(getattr(module, name, None), type):
            classes.append(getattr(module, name))
    return tuple(classes)


def backoff(failures: int) -> float:
    """Seconds to wait after ``failures`` failures in a row: 0.5, 1, 2, 4, then 5 (capped)."""
    if failures <= 0:
        return 0.0
    return min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (failures - 1))
