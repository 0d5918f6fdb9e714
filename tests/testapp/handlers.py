"""Handlers the tests schedule; autodiscovered like any app's ``handlers`` module."""

import time

from django_scheduler_api import handler


@handler("tests.echo")
def echo(ctx):
    """Return the data and the fire times it was given."""
    return {
        "data": ctx.data,
        "job_id": ctx.job_id,
        "trigger": ctx.trigger,
        "scheduled_fire_time": ctx.scheduled_fire_time.isoformat(),
    }


@handler("tests.fail")
def fail(ctx):
    """Raise, so the execution fails."""
    raise RuntimeError("this handler always fails")


@handler("tests.unserialisable")
def unserialisable(ctx):
    """Return something JSON cannot hold."""
    return {"when": object()}


@handler("tests.sleep")
def sleep(ctx):
    """Sleep for data['seconds'] (default 1)."""
    time.sleep(float(ctx.data.get("seconds", 1)))
    return "slept"


@handler("tests.exit")
def exit_(ctx):
    """Call sys.exit, which must not stop the worker."""
    raise SystemExit(3)
