"""The chaos suite's handler: a line when it starts and one when it ends, appended with O_APPEND.

Lines shorter than ``PIPE_BUF`` written with one ``write`` to a file opened with ``O_APPEND`` never
interleave, whichever process writes them, so the file is the ground truth of what really ran.
"""

from __future__ import annotations

import os
import time

from django_scheduler_api import handler

RUN_LOG = "CHAOS_RUN_LOG"


def _append(line: str) -> None:
    fd = os.open(os.environ[RUN_LOG], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@handler("chaos.append")
def append(ctx):
    """``S id job scheduled pid started`` first, then sleep ``data["sleep"]`` seconds, then ``E id ended``."""
    scheduled = ctx.scheduled_fire_time.timestamp()
    _append(f"S {ctx.execution_id} {ctx.job_id} {scheduled:.0f} {os.getpid()} {time.time():.3f}\n")
    time.sleep(float(ctx.data.get("sleep", 0)))
    _append(f"E {ctx.execution_id} {time.time():.3f}\n")
    return None
