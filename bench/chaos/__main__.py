"""``python -m bench.chaos [--quick] [--only NAME] [--keep]``: run the chaos suite, print one table.

Exit status 1 when any scenario missed a fire, ran one twice, left an execution stuck, saw a process
exit on its own, found lost executions later than the engine documents, or when its fault did not
land as the scenario names it (each row says how the fault was verified).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.chaos.settings"

from bench.chaos import report  # noqa: E402
from bench.chaos.cluster import SCHEDULERS, Cluster  # noqa: E402
from bench.chaos.scenarios import FULL, QUICK, QUICK_SECONDS, SCENARIOS, Scenario  # noqa: E402
from bench.chaos.services import Namespace  # noqa: E402

JOBS = 50
LEAD = 3  # seconds from seeding to the first fire
DRAIN = 90  # longest wait after the last fire for every execution to finish


def seed(prefix: str, seconds: int, scenario: Scenario) -> int:
    """Create the scenario's jobs, firing every second from a whole second ``LEAD`` ahead."""
    import django
    from django.db import connection

    django.setup()
    from django_scheduler_api.models import Job

    connection.close()  # the previous scenario may have restarted the server
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=LEAD)
    Job.objects.bulk_create(
        Job(id=f"{prefix}.{i:02d}", name=f"{prefix}.{i:02d}", group=prefix, handler="chaos.append",
            cron_expression="* * * * * ?", start_time=start, end_time=start + timedelta(seconds=seconds - 1),
            next_fire_time=start, data={"sleep": scenario.sleep}, overlap_policy=scenario.overlap)
        for i in range(JOBS)
    )  # fmt: skip
    connection.close()
    return int(start.timestamp())


def run(cluster: Cluster, number: int, scenario: Scenario, durations: dict, seconds: int) -> report.Outcome:
    prefix = f"s{number:02d}"
    cluster.wait_healthy()
    exits_before = {name: len(p.exits) for name, p in cluster.supervisor.programs.items()}
    cpu_before = {name: cluster.cpu_seconds(name) for name in SCHEDULERS}
    start = seed(prefix, seconds, scenario)
    time.sleep(max(0.0, start + scenario.at - time.time()))
    fault = scenario.inject(cluster, start, durations)
    end = start + seconds
    report.drain(cluster, prefix, end, DRAIN)
    cpu = {name: cluster.cpu_seconds(name) - cpu_before[name] for name in SCHEDULERS}
    # A scheduler restarted during the scenario started its CPU count again: shown as restarted.
    fault.notes.append(
        "scheduler CPU " + " / ".join(f"{v:.1f} s" if v >= 0 else "restarted" for v in cpu.values())
    )
    exits = {name: p.exits[exits_before[name] :] for name, p in cluster.supervisor.programs.items()}
    return report.count(
        cluster,
        scenario.name,
        prefix,
        JOBS,
        start,
        seconds,
        fault,
        exits,
        overlap_skip=scenario.overlap == "skip",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short versions of the faults (~7 min)")
    parser.add_argument("--only", action="append", default=[], help="run scenarios whose name contains this")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = parser.parse_args()
    netns = Namespace.available()
    settings = {"NODE_TIMEOUT": "10"} if args.quick else {}
    durations = QUICK if args.quick else FULL
    cluster = Cluster(netns=netns, settings=settings, keep=args.keep)
    outcomes: list[report.Outcome] = []
    began = time.monotonic()
    try:
        cluster.open()
        print(report.machine(cluster, netns), flush=True)
        for number, scenario in enumerate(SCENARIOS, 1):
            if args.only and not any(part in scenario.name for part in args.only):
                continue
            if scenario.needs_netns and not netns:
                print(f"skipped: {scenario.name} (needs root and `ip netns`)", flush=True)
                continue
            seconds = QUICK_SECONDS.get(scenario.name, 18) if args.quick else scenario.seconds
            outcome = run(cluster, number, scenario, durations, seconds)
            outcomes.append(outcome)
            print(outcome.line(), flush=True)
    finally:
        cluster.close()
    print(f"\n{len(outcomes)} scenarios in {(time.monotonic() - began) / 60:.1f} min; logs: {cluster.dir}")
    print(report.table(outcomes))
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
