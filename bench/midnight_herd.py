"""The midnight herd: 10,000 jobs due at one instant, trivial handlers; when did the last one start
and finish?

Measured from the instant (every job's one fire) to the latest handler start and the latest handler
end, with the peers in the same run:

- this project: one ``run_scheduler`` and 1, then 2 ``qcluster`` processes (``--workers`` each) on
  PostgreSQL + Redis; the handler notes ``time.time()`` as it starts, ``finished_at`` is its end;
- django-q2's own ``Schedule``: 10,000 one-off schedules due at the instant, fired by a ``qcluster``'s
  built-in scheduler (it looks every 30 s, so its phase decides much of its figure), same broker;
- APScheduler 3 ``BackgroundScheduler``: 10,000 date jobs at the instant, in-process (memory store,
  its default thread pool of 10), no database or broker.

Usage: ``.venv/bin/python bench/midnight_herd.py [--jobs 10000] [--workers 4] [--qclusters 1 2]
[--no-q2]`` (about 3 minutes; django-q2 adds up to a minute). The goal: the last handler started
within 2 s of the instant.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from datetime import datetime

from common import machine

from tests.engine.sites import EXECUTIONS, postgres_redis_site
from tests.support import wait_for

PG_NAME, REDIS_DB = f"sched_bench_herd_{os.getpid()}", 12  # per process: runs side by side do not mix
LEAD = 15  # seconds from creating the jobs to their instant: the scheduler sees them all before it


def ours(jobs: int, qclusters: int, workers: int) -> dict[str, float]:
    """Seconds from the instant to the last hand-over, the last handler start and the last end."""
    with postgres_redis_site(PG_NAME, REDIS_DB, SCHEDULER_TEST_Q_WORKERS=str(workers)) as site:
        for _ in range(qclusters):
            site.qcluster()
        site.scheduler("bench:herd")
        instant = site.add_jobs("herd", jobs, 1, lead=LEAD, handler="bench.noop")
        wait_for(lambda: site.all_finished(jobs), timeout=LEAD + 600, interval=0.5)
        (sent, finished), *_ = site.sql(
            f"SELECT max({site.epoch('enqueued_at')}), max({site.epoch('finished_at')}) FROM {EXECUTIONS}"
        )
        (started,), *_ = site.sql(f"SELECT max((result->>'started')::float) FROM {EXECUTIONS}")
    return {"sent": sent - instant, "started": started - instant, "finished": finished - instant}


def django_q2(jobs: int, workers: int) -> dict[str, float]:
    """The same for django-q2's Schedule: one-off schedules due at the instant."""
    import redis

    key = f"bench:q2-herd:{os.getpid()}"
    with postgres_redis_site(PG_NAME, REDIS_DB, SCHEDULER_TEST_Q_WORKERS=str(workers)) as site:
        instant = round(time.time()) + LEAD
        site.django(
            f"""
            from datetime import datetime, timezone
            from django_q.models import Schedule
            when = datetime.fromtimestamp({instant}, tz=timezone.utc)
            Schedule.objects.bulk_create([
                Schedule(name=f"q2.{{i}}", func="bench.benchapp.handlers.q2_herd_task",
                         kwargs="key='{key}'", schedule_type=Schedule.ONCE, next_run=when, repeats=-1)
                for i in range({jobs})
            ], batch_size=2000)
            """
        )
        client = redis.Redis.from_url(f"redis://127.0.0.1:6379/{REDIS_DB}")
        client.delete(key)
        site.qcluster(BENCH_REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}")
        wait_for(lambda: client.llen(key) >= jobs, timeout=LEAD + 600, interval=0.5)
        times = [tuple(map(float, raw.decode().split())) for raw in client.lrange(key, 0, -1)]
        client.delete(key)
    return {"started": max(t[0] for t in times) - instant, "finished": max(t[1] for t in times) - instant}


def apscheduler(jobs: int) -> dict[str, float]:
    """The same for APScheduler, in-process: date jobs at the instant."""
    from apscheduler.schedulers.background import BackgroundScheduler

    times: list[tuple[float, float]] = []
    lock = threading.Lock()

    def job() -> None:
        started = time.time()
        with lock:
            times.append((started, time.time()))

    scheduler = BackgroundScheduler(job_defaults={"misfire_grace_time": 3600})
    instant = round(time.time()) + 5
    for i in range(jobs):
        scheduler.add_job(job, "date", run_date=datetime.fromtimestamp(instant), id=f"ap.{i}")
    scheduler.start()
    wait_for(lambda: len(times) >= jobs, timeout=600, interval=0.2)
    scheduler.shutdown()
    return {"started": max(t[0] for t in times) - instant, "finished": max(t[1] for t in times) - instant}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4, help="django-q2 workers of each qcluster")
    parser.add_argument("--qclusters", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-q2", action="store_true", help="leave django-q2's Schedule out")
    args = parser.parse_args()
    print(machine())
    mine = {n: ours(args.jobs, n, args.workers) for n in args.qclusters}
    ap = apscheduler(args.jobs)
    q2 = None if args.no_q2 else django_q2(args.jobs, args.workers)
    base = mine[args.qclusters[0]]["started"]
    print(f"| scheduler ({args.jobs} jobs due at one instant) | last handed over s | last started s "
          "| last finished s | last start vs ours |")  # fmt: skip
    print("|---|---|---|---|---|")
    for n, figures in mine.items():
        print(f"| django-scheduler-api, 1 run_scheduler + {n} qcluster x {args.workers} workers "
              f"| {figures['sent']:.2f} | {figures['started']:.2f} | {figures['finished']:.2f} "
              f"| {figures['started'] / base:.2f}x |")  # fmt: skip
    if q2:
        print(f"| django-q2 Schedule (30 s scheduler tick), 1 qcluster x {args.workers} workers | - "
              f"| {q2['started']:.2f} | {q2['finished']:.2f} | {q2['started'] / base:.2f}x |")  # fmt: skip
    print(f"| APScheduler 3 BackgroundScheduler (in-process, 10 threads) | - | {ap['started']:.2f} "
          f"| {ap['finished']:.2f} | {ap['started'] / base:.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
