"""Handlers the tests schedule; autodiscovered like any app's ``handlers`` module."""

import logging
import signal
import threading
import time

from django_scheduler_api import handler

log = logging.getLogger(__name__)


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


_meetings: dict[tuple[str, int], threading.Barrier] = {}
_meetings_lock = threading.Lock()


@handler("tests.rendezvous")
def rendezvous(ctx):
    """Wait until data['parties'] handlers of the same data['key'] are all running, then return.

    Handlers run one after another never meet: the first waits data['timeout'] seconds and fails.
    """
    parties, key = int(ctx.data["parties"]), str(ctx.data["key"])
    with _meetings_lock:
        meeting = _meetings.setdefault((key, parties), threading.Barrier(parties))
    meeting.wait(float(ctx.data.get("timeout", 30)))
    return {"met": parties, "thread": threading.current_thread().name}


@handler("tests.context")
def context(ctx):
    """Return the fire times of the context."""
    return {
        name: value.isoformat() if value else None
        for name, value in (
            ("fire_time", ctx.fire_time),
            ("scheduled_fire_time", ctx.scheduled_fire_time),
            ("previous_fire_time", ctx.previous_fire_time),
            ("next_fire_time", ctx.next_fire_time),
        )
    }


@handler("tests.now")
def now(ctx):
    """Return the wall-clock time the handler started (Unix seconds)."""
    return {"now": time.time()}


def _nested(depth):
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


# What a handler can return that JSON or a database cannot hold (see jsonvalues).
BAD_RESULTS = {
    "nan": float("nan"),
    "infinity": {"x": float("inf")},
    "minus-infinity": [float("-inf")],
    "surrogate": {"x": "\ud800"},
    "surrogate-key": {"\udc00": 1},
    "nul": {"x": "a\x00b"},
    "deep": _nested(32),  # one level more than MariaDB stores
}


@handler("tests.unstorable")
def bad_result(ctx):
    """Return BAD_RESULTS[data['kind']]."""
    return BAD_RESULTS[ctx.data["kind"]]


class Halt(BaseException):
    """A BaseException that is no Exception, KeyboardInterrupt or SystemExit."""


@handler("tests.raise_base")
def interrupt(ctx):
    """End by data['kind']: a KeyboardInterrupt, another BaseException, or an unstorable message."""
    kind = ctx.data.get("kind", "keyboard")
    if kind == "keyboard":
        raise KeyboardInterrupt
    if kind == "base":
        raise Halt("halted")
    raise RuntimeError("bad \x00 and \ud800 in a message")


_library = logging.getLogger("tests.library")  # stands for a library the handler calls


@handler("tests.log_lines")
def log_lines(ctx):
    """Log data['lines'] lines tagged with data['tag'] through its own logger and a library's,
    meeting data['parties'] handlers of data['key'] first (so that they log at the same time)."""
    if "parties" in ctx.data:
        rendezvous(ctx)
    tag = ctx.data["tag"]
    for i in range(int(ctx.data.get("lines", 20))):
        log.info("%s line %d", tag, i)
        if i % 5 == 0:
            _library.warning("%s library call %d", tag, i)
        time.sleep(float(ctx.data.get("pause", 0.002)))
    return {"tag": tag}


@handler("tests.flaky")
def flaky(ctx):
    """Fail until the attempt ``succeed_at`` of the data (default 2), then succeed: a retried job."""
    if ctx.attempt < ctx.data.get("succeed_at", 2):
        raise RuntimeError(f"attempt {ctx.attempt} fails")
    return {"attempt": ctx.attempt}


@handler("tests.stubborn")
def stubborn(ctx):
    """Sleep for data['seconds'] in short naps, swallowing every ``Exception`` on the way (a
    handler that would hide a timeout raised as an ``Exception``)."""
    until = time.monotonic() + float(ctx.data.get("seconds", 30))
    while time.monotonic() < until:
        try:
            time.sleep(0.05)
        except Exception:  # what the timeout must not be stopped by
            pass
    return "never stopped"


@handler("tests.uninterruptible")
def uninterruptible(ctx):
    """Sleep for data['seconds'] with SIGALRM blocked: no alarm can stop it (a handler stuck in C
    code), only the end of its worker process."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        time.sleep(float(ctx.data.get("seconds", 30)))
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})
    return "slept through"
