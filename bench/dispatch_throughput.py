"""Dispatch throughput: 10,000 jobs due at once; fires per second until all are sent to the broker.

All three on PostgreSQL + Redis where they use them, timed in this process from the first look at
the due work to the last task handed over:

- this project: one ``Scheduler.dispatch_due()`` (claims in batches of ``CLAIM_BATCH_SIZE`` with
  ``DISPATCH_THREADS`` threads, records executions, sends django-q2 tasks to Redis, and marks sent
  whatever its next pass would), with the startup objects frozen as ``run_scheduler`` freezes them
  (unfrozen before the peers run);
- django-q2: one pass of its built-in scheduler over 10,000 due ``Schedule`` rows (what its cluster
  runs every 30 s), sending to the same Redis broker;
- APScheduler 3: a ``BackgroundScheduler`` with 10,000 due date jobs (memory store), until every job
  function has been called (no broker: its executor is a thread pool in the same process).

Usage: ``.venv/bin/python bench/dispatch_throughput.py [--jobs 10000]`` (well under a minute).
"""

from __future__ import annotations

import argparse
import gc
import threading
import time
from datetime import datetime, timedelta

from common import drop_database, fresh_database, machine


def ours(jobs: int) -> float:
    from django.utils import timezone

    from django_scheduler_api.engine import Scheduler
    from django_scheduler_api.management.commands.run_scheduler import freeze_startup_objects
    from django_scheduler_api.models import Execution, Job

    now = timezone.now()
    Job.objects.bulk_create(
        [Job(id=f"t.{i:05d}", handler="bench.noop", cron_expression="0 0 * * * ?",
             next_fire_time=now - timedelta(seconds=1)) for i in range(jobs)],
        batch_size=2000,
    )  # fmt: skip
    scheduler = Scheduler("bench:throughput")
    freeze_startup_objects()  # as run_scheduler does once started
    started = time.perf_counter()
    stats = scheduler.dispatch_due()
    scheduler.mark_pushed()  # what the loop leaves for its next pass is timed too
    elapsed = time.perf_counter() - started
    gc.unfreeze()  # the peers run in the process as it was
    assert stats.sent == jobs == Execution.objects.filter(enqueued_at__isnull=False).count(), stats
    return jobs / elapsed


def django_q2(jobs: int) -> float:
    from django.utils import timezone
    from django_q.brokers import get_broker
    from django_q.models import Schedule
    from django_q.scheduler import scheduler

    Schedule.objects.bulk_create(
        [Schedule(name=f"q2.{i}", func="bench.benchapp.handlers.q2_task", schedule_type=Schedule.HOURLY,
                  next_run=timezone.now() - timedelta(seconds=1), repeats=-1) for i in range(jobs)],
        batch_size=2000,
    )  # fmt: skip
    broker = get_broker()
    broker.purge_queue()
    started = time.perf_counter()
    scheduler(broker=broker)
    elapsed = time.perf_counter() - started
    assert broker.queue_size() == jobs, broker.queue_size()
    return jobs / elapsed


def apscheduler(jobs: int) -> float:
    from apscheduler.schedulers.background import BackgroundScheduler

    done = threading.Semaphore(0)
    scheduler = BackgroundScheduler(job_defaults={"misfire_grace_time": 3600})
    when = datetime.now() + timedelta(seconds=1)
    for i in range(jobs):
        scheduler.add_job(done.release, "date", run_date=when, id=f"ap.{i}")
    scheduler.start(paused=True)
    wait = (when - datetime.now()).total_seconds()
    time.sleep(max(0.0, wait))
    started = time.perf_counter()
    scheduler.resume()
    for _ in range(jobs):
        done.acquire()
    elapsed = time.perf_counter() - started
    scheduler.shutdown()
    return jobs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()
    print(machine())
    fresh_database()
    try:
        mine = ours(args.jobs)
        q2 = django_q2(args.jobs)
    finally:
        drop_database()
    ap = apscheduler(args.jobs)
    print(f"| scheduler | {args.jobs} due jobs: fires/s | vs ours |")
    print("|---|---|---|")
    print(f"| django-scheduler-api (one run_scheduler pass) | {mine:,.0f} | 1.00x |")
    print(f"| django-q2 Schedule (one scheduler pass) | {q2:,.0f} | {q2 / mine:.2f}x |")
    print(f"| APScheduler 3 BackgroundScheduler (memory store, thread pool) | {ap:,.0f} | {ap / mine:.2f}x |")


if __name__ == "__main__":
    main()
