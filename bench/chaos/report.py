"""Counting a scenario: the fires the schedules name against the rows and the real handler runs.

- **missing**: a fire the schedule named that no handler ran, that is not skipped by design and
  not recorded ``lost`` (work lost honestly, with a dead worker, is shown apart with how soon it
  was found).
- **duplicates**: handler runs beyond the first of a fire (and, with overlap ``skip``, runs of one
  job that overlapped in time).
- **skipped by design**: fires recorded ``skipped`` (overlap ``skip``, or judged a misfire).
- **stuck**: executions not finished when the backlog drained, or whose handler ended but whose
  row says ``running`` or ``lost`` (a wrong history).
- **exits**: exits of a process the harness did not cause (the supervisor restarted them).
- **worst lag** and **recovered**: the latest any handler started after its fire, and how long
  after the fault ended the last late fire (> 1 s) started.
"""

from __future__ import annotations

import platform
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import pairwise

import psycopg

from bench.chaos.cluster import EXECUTIONS, Cluster
from bench.chaos.scenarios import Fault
from bench.chaos.supervisor import Exit

LATE = 1.0  # a handler starting more than this after its fire is late


@dataclass
class Outcome:
    name: str
    expected: int
    rows: int
    runs: int
    missing: int
    duplicates: int
    skipped: int
    lost: int
    lost_found_in: float | None
    stuck: int
    exits: dict[str, list[Exit]]
    worst_lag: float
    recovered: float
    notes: list[str] = field(default_factory=list)

    @property
    def unplanned(self) -> list[str]:
        return [f"{name} rc {e.status}" for name, exits in self.exits.items() for e in exits if not e.planned]

    @property
    def passed(self) -> bool:
        found_in_time = self.lost_found_in is None or self.lost_found_in <= 30
        return not (self.missing or self.duplicates or self.stuck or self.unplanned) and found_in_time

    def cells(self) -> list[str]:
        restarts = sum(len(exits) for exits in self.exits.values())
        lost = (
            f"{self.lost} ({self.lost_found_in:.0f} s)" if self.lost_found_in is not None else str(self.lost)
        )
        survival = f"{len(self.unplanned)} unplanned / {restarts} restarts"
        return [
            self.name, f"{self.expected:,}", f"{self.rows:,}", f"{self.runs:,}", str(self.missing),
            str(self.duplicates), str(self.skipped), lost, str(self.stuck), survival,
            f"{self.worst_lag:.1f} s", f"{self.recovered:.1f} s",
        ]  # fmt: skip

    def line(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        unplanned = f"; exits: {', '.join(self.unplanned)}" if self.unplanned else ""
        return f"[{verdict}] {' | '.join(self.cells())}  -- {'; '.join(self.notes)}{unplanned}"


HEADER = [
    "scenario", "expected fires", "rows", "handler runs", "missing", "duplicates", "skipped by design",
    "lost (found in)", "stuck", "processes", "worst lag", "recovered",
]  # fmt: skip


def table(outcomes: list[Outcome]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(o.cells()) + " |" for o in outcomes]
    lines += ["", "Notes:"] + [f"- {o.name}: {'; '.join(o.notes)}" for o in outcomes]
    return "\n".join(lines)


def drain(cluster: Cluster, prefix: str, end: float, longest: float) -> None:
    """Wait for the last fire, then until no execution of the scenario is queued or running."""
    time.sleep(max(0.0, end + 2 - time.time()))
    deadline = time.time() + longest
    query = f"SELECT count(*) FROM {EXECUTIONS} WHERE job_id LIKE %s AND status IN ('queued', 'running')"
    while time.time() < deadline:
        try:
            if cluster.sql(query, (f"{prefix}.%",))[0][0] == 0:
                time.sleep(1)  # outcomes being written now
                return
        except psycopg.Error:
            pass
        time.sleep(0.5)


def _runs(cluster: Cluster, prefix: str) -> tuple[dict, dict]:
    """From the run log: starts (execution id -> (job, second, pid, time)) and ends (id -> time)."""
    starts, ends = {}, {}
    for line in cluster.run_log.read_text().splitlines():
        parts = line.split()
        if parts[0] == "S" and parts[2].startswith(prefix + "."):
            starts[parts[1]] = (parts[2], int(parts[3]), int(parts[4]), float(parts[5]))
        elif parts[0] == "E":
            ends[parts[1]] = float(parts[2])
    return starts, ends


def count(
    cluster: Cluster,
    name: str,
    prefix: str,
    jobs: int,
    start: int,
    seconds: int,
    fault: Fault,
    exits: dict[str, list[Exit]],
    *,
    overlap_skip: bool = False,
) -> Outcome:
    rows = cluster.sql(
        f"SELECT id::text, job_id, extract(epoch from scheduled_fire_time)::bigint, status, "
        f"extract(epoch from finished_at)::float FROM {EXECUTIONS} WHERE job_id LIKE %s",
        (f"{prefix}.%",),
    )
    starts, ends = _runs(cluster, prefix)
    ends = {key: value for key, value in ends.items() if key in starts}
    runs_of = Counter((job, second) for job, second, _, _ in starts.values())
    rows_of = defaultdict(list)
    for _, job, second, status, _ in rows:
        rows_of[(job, second)].append(status)
    expected = [(f"{prefix}.{i:02d}", s) for i in range(jobs) for s in range(start, start + seconds)]
    missing = skipped = 0
    for fire in expected:
        if runs_of[fire]:
            continue
        statuses = rows_of.get(fire, [])
        if "skipped" in statuses:
            skipped += 1
        elif "lost" not in statuses:
            missing += 1
    duplicates = sum(n - 1 for n in runs_of.values() if n > 1)
    if overlap_skip:
        duplicates += _overlaps(starts, ends)
    lost_rows = [row for row in rows if row[3] == "lost"]
    stuck = sum(1 for row in rows if row[3] in ("queued", "running")) + sum(
        1 for row in rows if row[3] in ("running", "lost") and row[0] in ends
    )
    lags = [began - second for _, second, _, began in starts.values()]
    late = [began for _, second, _, began in starts.values() if began - second > LATE]
    return Outcome(
        name=name,
        expected=len(expected),
        rows=len(rows),
        runs=len(starts),
        missing=missing,
        duplicates=duplicates,
        skipped=skipped,
        lost=len(lost_rows),
        lost_found_in=max((row[4] - fault.began for row in lost_rows), default=None),
        stuck=stuck,
        exits=exits,
        worst_lag=max(lags, default=0.0),
        recovered=max(0.0, max(late, default=fault.healed) - fault.healed),
        notes=fault.notes,
    )


def _overlaps(starts: dict, ends: dict) -> int:
    """Runs of one job that began before the job's previous run ended (overlap ``skip`` forbids it)."""
    by_job = defaultdict(list)
    for execution, (job, _, _, began) in starts.items():
        by_job[job].append((began, ends.get(execution, float("inf"))))
    overlapping = 0
    for spans in by_job.values():
        spans.sort()
        overlapping += sum(1 for (_, end), (began, _) in pairwise(spans) if began < end)
    return overlapping


def machine(cluster: Cluster, netns: bool) -> str:
    import os

    import django

    server = cluster.sql("SHOW server_version")[0][0]
    redis_version = cluster.redis.client().info()["redis_version"]
    where = "each scheduler in a network namespace of its own" if netns else "all processes on the host"
    return (
        f"nproc {os.cpu_count()}, Python {platform.python_version()}, Django {django.get_version()}, "
        f"PostgreSQL {server} (port {cluster.postgres.port}), "
        f"Redis {redis_version} (port {cluster.redis.port}); "
        f"2 run_scheduler + 1 qcluster (4 workers), {where}"
    )
