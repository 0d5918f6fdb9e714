"""Scale: a scheduler's resident memory and the database time of one idle pass, by stored jobs.

For 1,000 and then 100,000 stored jobs (none due; the variety of ``common.store_jobs``), on
PostgreSQL + Redis:

- resident memory (RSS) of a real ``run_scheduler`` process after it has run for a few seconds;
- database time of one idle pass of the loop (``tick()`` + ``sleep_time()``: the due-jobs claim
  and the next-fire look-up), median and p99 over a few hundred passes, measured in this process;
- database time of one housekeeping pass (heartbeat, outbox, lost executions, pruning).

The goal is flat figures: nothing the scheduler does while idle may grow with the number of jobs.

Usage: ``.venv/bin/python bench/scale.py [--sizes 1000 100000]`` (about a minute).
"""

from __future__ import annotations

import argparse
import time

import psutil
from common import drop_database, fresh_database, machine, percentile, store_jobs

PASSES = 1000


class DatabaseTimer:
    """Sums the time spent in database calls (an ``execute_wrapper``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.queries += 1


def scheduler_rss() -> float:
    """MiB resident in a real run_scheduler process after five seconds of idle passes."""
    from tests.support import ManagedProcess

    process = ManagedProcess("run_scheduler", "--node-name", "bench:rss", ready="started").start()
    try:
        time.sleep(5)
        return psutil.Process(process.proc.pid).memory_info().rss / 2**20
    finally:
        process.stop()


def idle_pass_ms() -> tuple[float, float, int, float]:
    """(median ms, p99 ms, queries) of an idle pass, and ms of one housekeeping pass."""
    from django.db import connection

    from django_scheduler_api.engine import Scheduler
    from django_scheduler_api.engine.loop import TickStats

    scheduler = Scheduler("bench:idle")
    scheduler.tick()  # first pass: heartbeat and housekeeping
    samples, queries = [], 0
    for _ in range(PASSES):
        timer = DatabaseTimer()
        with connection.execute_wrapper(timer):
            scheduler.dispatch_due()
            scheduler.sleep_time()
        samples.append(timer.seconds * 1000)
        queries = timer.queries
    timer = DatabaseTimer()
    with connection.execute_wrapper(timer):
        scheduler._next_beat = scheduler._next_maintenance = 0.0
        scheduler._housekeeping(TickStats())
    return percentile(samples, 50), percentile(samples, 99), queries, timer.seconds * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    args = parser.parse_args()
    print(machine())
    fresh_database()
    rows = []
    try:
        for size in sorted(args.sizes):
            store_jobs(size)
            rss = scheduler_rss()
            rows.append((size, rss, *idle_pass_ms()))
    finally:
        drop_database()
    base = rows[0]
    print("| stored jobs | scheduler RSS MiB | idle pass DB ms p50 | p99 | queries | housekeeping DB ms |")
    print("|---|---|---|---|---|---|")
    for size, rss, p50, p99, queries, house in rows:
        print(
            f"| {size:,} | {rss:.1f} ({rss / base[1]:.2f}x) | {p50:.3f} ({p50 / base[2]:.2f}x) | "
            f"{p99:.3f} | {queries} | {house:.2f} ({house / base[5]:.2f}x) |"
        )


if __name__ == "__main__":
    main()
