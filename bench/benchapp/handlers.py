"""Handlers of the benchmarks: they note the instant they start, which is what fire lag ends at."""

import time

from django_scheduler_api import handler


@handler("bench.report")  # bench/scale.py's stored jobs name these too: a few handlers, not one
@handler("bench.sync")
@handler("bench.noop")
def noop(ctx):
    """Return the wall-clock second this handler started, and the fire it belongs to."""
    return {"started": time.time(), "scheduled": ctx.scheduled_fire_time.timestamp()}


def q2_task(intended: str | None = None) -> None:
    """The same for a django-q2 Schedule, which passes its intended run time as ``intended``.

    It writes to Redis itself: with ``save_limit = -1`` django-q2 stores no result (nor runs hooks).
    """
    import os

    import redis

    started = time.time()
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    redis.Redis.from_url(url).rpush("bench:q2", f"{started} {intended}")


def q2_herd_task(key: str = "bench:q2-herd") -> None:
    """A trivial django-q2 task of the midnight herd: notes when it started and ended, in Redis."""
    import os

    import redis

    started = time.time()
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    redis.Redis.from_url(url).rpush(key, f"{started} {time.time()}")
