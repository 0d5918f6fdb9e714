"""Fire lag: scheduled fire time -> handler start, for 100 jobs firing every second.

Three schedulers on the same machine, each with its own natural setup:

- this project: one ``run_scheduler`` + one ``qcluster`` on PostgreSQL + Redis;
- django-q2's own ``Schedule`` (CRON ``* * * * *``, the finest it can express: minutes, Unix cron),
  fired by the same ``qcluster``'s built-in scheduler, which looks at schedules every 30 seconds;
- APScheduler 3 ``BackgroundScheduler`` with a per-second ``CronTrigger``, in-process, memory job store.

This project is also run with ``--light`` jobs (default 10), a load its workers absorb at once.
``--embedded N`` runs the embedded default instead, alone: SQLite and django-q2's ORM broker, 2 workers,
django-q2's default ``poll`` (0.2 s), N jobs every second (no peer: neither peer has such a setup).

Usage: ``.venv/bin/python bench/fire_lag.py [--jobs 100] [--seconds 20] [--q2-minutes 2] [--workers 4]
[--light 10] [--embedded 20]`` (about 4 minutes with the defaults; ``--q2-minutes 0`` leaves
django-q2 out). Fire lag at 1,000 jobs a second: ``--jobs 1000 --seconds 30 --light 0 --q2-minutes 0``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from common import cpu_snapshot, cpu_use, machine, percentile

from tests.engine.sites import EXECUTIONS, Site, postgres_redis_site, sqlite_site
from tests.support import wait_for

PG_NAME, REDIS_DB = f"sched_bench_lag_{os.getpid()}", 12  # per process: runs side by side do not mix


def ours(jobs: int, seconds: int, workers: int) -> dict[str, list[float]]:
    """Lags of this project: to the push to Redis (negative when handed over ahead of the instant,
    see ``LOOKAHEAD``) and to the handler's start."""
    with postgres_redis_site(PG_NAME, REDIS_DB, SCHEDULER_TEST_Q_WORKERS=str(workers)) as site:
        return measure(site, jobs, seconds)


def embedded(jobs: int, seconds: int) -> dict[str, list[float]]:
    """The same on the embedded default: SQLite, the ORM broker, 2 workers, django-q2's poll."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lag.sqlite3"
        with sqlite_site(path, SCHEDULER_TEST_Q_WORKERS="2", SCHEDULER_TEST_Q_POLL="0.2") as site:
            return measure(site, jobs, seconds)


def measure(site: Site, jobs: int, seconds: int) -> dict[str, list[float]]:
    """Start a qcluster and a scheduler on ``site``, run ``jobs`` every second for ``seconds``."""
    site.qcluster()
    site.scheduler("bench:lag")
    start = site.add_jobs("lag", jobs, seconds, handler="bench.noop")
    time.sleep(max(0.0, start - time.time()))
    before = cpu_snapshot()
    time.sleep(seconds)  # while the jobs fire
    print(f"{jobs} jobs a second on {site.kind}: {cpu_use(before, cpu_snapshot())}")
    wait_for(lambda: site.all_finished(jobs * seconds), timeout=seconds + 300, interval=0.5)
    rows = site.sql(
        f"SELECT {site.epoch('scheduled_fire_time')}, {site.epoch('fire_time')}, "
        f"{site.epoch('enqueued_at')}, result FROM {EXECUTIONS}"
    )
    if site.kind == "sqlite":
        import json

        rows = [(*row[:3], json.loads(row[3])) for row in rows]
    return {
        "sent": [sent - scheduled for scheduled, _, sent, _ in rows],
        "handler": [result["started"] - scheduled for scheduled, _, _, result in rows],
    }


def django_q2(jobs: int, minutes: int, workers: int) -> list[float]:
    """Lags of django-q2's Schedule: every-minute cron schedules run for ``minutes`` minutes."""
    import redis

    with postgres_redis_site(PG_NAME, REDIS_DB, SCHEDULER_TEST_Q_WORKERS=str(workers)) as site:
        site.django(
            f"""
            from django.utils import timezone
            from django_q.models import Schedule
            nxt = timezone.now().replace(second=0, microsecond=0) + timezone.timedelta(minutes=1)
            Schedule.objects.bulk_create([
                Schedule(name=f"q2.{{i}}", func="bench.benchapp.handlers.q2_task", schedule_type="C",
                         cron="* * * * *", next_run=nxt, repeats=-1, intended_date_kwarg="intended")
                for i in range({jobs})
            ])
            """
        )
        client = redis.Redis.from_url(f"redis://127.0.0.1:6379/{REDIS_DB}")
        client.delete("bench:q2")
        started = time.time()
        site.qcluster(BENCH_REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}")
        first = (int(started) // 60 + 1) * 60
        last = first + 60 * (minutes - 1)
        wait_for(lambda: time.time() > last + 45, timeout=60 * minutes + 120, interval=1)
        lags = []
        for raw in client.lrange("bench:q2", 0, -1):
            start_s, intended = raw.decode().split(" ")
            scheduled = datetime.fromisoformat(intended).timestamp()
            if scheduled <= last:
                lags.append(float(start_s) - scheduled)
    return lags


def apscheduler(jobs: int, seconds: int) -> list[float]:
    """Lags of APScheduler: the scheduled second is the whole second before the start (lag < 1 s)."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    lags: list[float] = []
    lock = threading.Lock()

    def job() -> None:
        now = time.time()
        with lock:
            lags.append(now - int(now))

    scheduler = BackgroundScheduler(job_defaults={"misfire_grace_time": 60, "coalesce": False})
    start = int(time.time()) + 2
    trigger_args = {"second": "*", "start_date": datetime.fromtimestamp(start),
                    "end_date": datetime.fromtimestamp(start + seconds - 1)}  # fmt: skip
    for i in range(jobs):
        scheduler.add_job(job, CronTrigger(**trigger_args), id=f"ap.{i}")
    scheduler.start()
    wait_for(lambda: len(lags) >= jobs * seconds, timeout=seconds + 60, interval=0.2)
    scheduler.shutdown()
    return lags


def row(name: str, lags: list[float], base: float | None) -> str:
    """A table row; ``base`` is our p50 (None: this is ours; 0: no ratio, as for the hand-over)."""
    p50, p99 = percentile(lags, 50) * 1000, percentile(lags, 99) * 1000
    ratio = "1.0x" if base is None else f"{p50 / base:.1f}x" if base else "-"
    return f"| {name} | {len(lags)} | {p50:.1f} | {p99:.1f} | {max(lags) * 1000:.1f} | {ratio} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--q2-minutes", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--light", type=int, default=10, help="jobs of a second, unsaturated run")
    parser.add_argument("--embedded", type=int, default=0, help="jobs of a second on SQLite + ORM broker")
    args = parser.parse_args()
    print(machine())
    header = "| scheduler | fires | p50 ms | p99 ms | max ms | p50 vs ours |\n|---|---|---|---|---|---|"
    if args.embedded:
        lags = embedded(args.embedded, args.seconds)
        print(header)
        print(row(f"embedded default (SQLite, ORM broker), {args.embedded} jobs: handler start",
                  lags["handler"], None))  # fmt: skip
        print(row("  outbox closed (negative: ahead of the instant)", lags["sent"], 0))
        return
    mine = ours(args.jobs, args.seconds, args.workers)
    light = ours(args.light, args.seconds, args.workers) if args.light else None
    ap = apscheduler(args.jobs, args.seconds)
    q2 = django_q2(args.jobs, args.q2_minutes, args.workers) if args.q2_minutes else []
    base = percentile(mine["handler"], 50) * 1000
    print(header)
    print(row(f"django-scheduler-api, {args.jobs} jobs: handler start", mine["handler"], None))
    print(row("  task pushed to Redis (negative: ahead of the instant)", mine["sent"], 0))
    if light:
        print(row(f"django-scheduler-api, {args.light} jobs: handler start", light["handler"], base))
        print(row("  task pushed to Redis (negative: ahead of the instant)", light["sent"], 0))
    if q2:
        print(row("django-q2 Schedule (cron, 30 s tick)", q2, base))
    print(row("APScheduler 3 BackgroundScheduler (in-process)", ap, base))


if __name__ == "__main__":
    main()
