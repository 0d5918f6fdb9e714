"""Example handlers: autodiscovered because this app is installed and the module is ``handlers``."""

import logging
import time

from django_scheduler_api import handler

logger = logging.getLogger(__name__)


@handler("example.hello")
def hello(ctx):
    """Log a greeting and return it."""
    name = ctx.data.get("name", "world")
    logger.info("Hello, %s! (job %s, fired at %s)", name, ctx.job_id, ctx.fire_time)
    return {"greeting": f"Hello, {name}!"}


@handler("example.fail")
def fail(ctx):
    """Raise an error, to show a failed execution."""
    raise RuntimeError(f"Job {ctx.job_id} failed on purpose.")


@handler("example.sleep")
def sleep(ctx):
    """Sleep for data['seconds'] seconds (default 5), to show a running execution."""
    seconds = float(ctx.data.get("seconds", 5))
    time.sleep(seconds)
    return {"slept": seconds}
