"""A barrier inside a scheduler's claim, for the chaos suite only: no engine code is changed.

The scenarios "frozen in its claim" and "partition" must stop a scheduler while its claim
transaction holds job rows locked. A claim is a few milliseconds a second, so catching it from
outside is luck. Instead, each ``run_scheduler`` of the suite (both share one arm: the fires of an
instant go to whichever wakes first, so the next fire stops one of them) (``CHAOS_BARRIER`` set in its
environment by ``cluster.Cluster``) gets a Django *execute wrapper* (``connection.execute_wrappers``,
added on ``connection_created`` by ``apps.ChaosConfig.ready``) that looks at every statement after
it ran. When the harness has armed the barrier (created the file ``<CHAOS_BARRIER>.armed``) and the
statement is the claim's ``SELECT ... FOR UPDATE SKIP LOCKED`` of due jobs that locked at least
one row, the wrapper takes the arm (one claim only), writes what it holds to
``<CHAOS_BARRIER>.held`` (JSON: its name, process id, PostgreSQL backend pid, rows locked, time) and sends
the process ``SIGSTOP``: the process stops between the claim's lock and its insert, as a GC pause or
a stopped VM would stop it, every time. The harness then checks from the database (``pgrowlocks``)
that the stopped scheduler's session really holds those row locks before it counts the fault as
landed.

Disarmed, the wrapper costs one string test per statement and one ``stat`` per claim that locked
rows, in the suite's schedulers only.
"""

from __future__ import annotations

import json
import os
import signal
import time

BARRIER = "CHAOS_BARRIER"
JOB_TABLE = '"django_scheduler_api_job"'


def install() -> None:
    """In a process whose environment names a barrier: wrap every database connection it opens."""
    if not os.environ.get(BARRIER):
        return
    from django.db.backends.signals import connection_created

    connection_created.connect(_wrap, weak=False, dispatch_uid="chaos-barrier")


def _wrap(sender, connection, **kwargs) -> None:
    if _claim_barrier not in connection.execute_wrappers:
        connection.execute_wrappers.append(_claim_barrier)


def is_claim(sql: str) -> bool:
    """The claim's lock of due jobs (``store.claim_due``): a select of the job table, by due time,
    ``FOR UPDATE SKIP LOCKED``."""
    return sql.endswith("FOR UPDATE SKIP LOCKED") and f"FROM {JOB_TABLE}" in sql and "next_fire_time" in sql


def _claim_barrier(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if not is_claim(sql):
        return result
    rows = context["cursor"].rowcount
    if rows <= 0:
        return result
    base = os.environ[BARRIER]
    try:
        os.unlink(base + ".armed")  # taken by one claim only, whichever thread gets there first
    except FileNotFoundError:
        return result
    held = {
        "name": os.environ.get("CHAOS_ROLE", ""),
        "pid": os.getpid(),
        "backend_pid": context["connection"].connection.info.backend_pid,
        "rows": rows,
        "at": time.time(),
    }
    with open(base + ".held.tmp", "w") as out:
        json.dump(held, out)
    os.replace(base + ".held.tmp", base + ".held")
    os.kill(os.getpid(), signal.SIGSTOP)  # the whole process, inside the claim's transaction
    return result
