"""Counting a scenario: the fires the schedules name against the rows and the real handler runs.

- **missing**: a fire the schedule named that no handler ran, that is not skipped by design and
  not recorded ``lost`` (work lost honestly, with a dead worker, is shown apart with how soon it
  was found).
- **duplicates**: handler runs beyond the first of a fire (and, with overlap ``skip``, runs of one
  job that overlapped in time).
- **skipped by design**: fires recorded ``skipped`` (overlap ``skip``, or judged a misfire).
- **lost**: executions recorded ``lost``, each with its reason; how long after the fault ended the
  last one was found, within the bound the engine documents for its reason (``lost_bound``). A
  lost execution whose handler
  had ended is a wrong history, except for a handler of a process the fault killed that ended at
  most ``OUTCOME_WINDOW`` before the kill: its outcome was waiting to be written (the worker
  records outcomes every ``RECORD_INTERVAL``) and died with it.
- **stuck**: executions not finished when the backlog drained, or whose handler ended but whose
  row says ``running`` or ``lost`` (a wrong history, but for the exception above).
- **fault landed**: whether the fault happened as the scenario names it, and how that was checked
  (a scenario whose fault did not land fails, whatever its counts).
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
OUTCOME_WINDOW = 1.0  # seconds before a kill in which a handler's outcome may die unwritten
LOST_SLACK = 5.0  # seconds beyond WORKER_TIMEOUT + HEARTBEAT_INTERVAL to find a dead worker's runs


def lost_bound(reason: str) -> float | None:
    """Seconds after the fault ended within which the engine documents that an execution lost this
    way is found (docs/engine.rst, "Lost and old executions"), with ``LOST_SLACK``; None for a
    reason the suite does not expect.

    - its worker's heartbeat stopped: silent for ``WORKER_TIMEOUT``, seen at the next scheduler
      heartbeat ("found within about 30 seconds"; after an outage of its own a scheduler waits one
      ``WORKER_TIMEOUT`` before judging workers, hence from the end of the fault);
    - django-q2 saved its task as failed: at the next maintenance sweep (``MAINTENANCE_INTERVAL``).
    """
    from django_scheduler_api.conf import scheduler_settings as s

    if reason.startswith("Lost: its worker process stopped its heartbeat"):
        return float(s.WORKER_TIMEOUT) + float(s.HEARTBEAT_INTERVAL) + LOST_SLACK
    if reason.startswith("Lost: django-q2 reports that its task failed"):
        return float(s.MAINTENANCE_INTERVAL) + float(s.HEARTBEAT_INTERVAL) + LOST_SLACK
    return None


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
    landed: bool = True
    evidence: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def unplanned(self) -> list[str]:
        return [f"{name} rc {e.status}" for name, exits in self.exits.items() for e in exits if not e.planned]

    @property
    def passed(self) -> bool:
        counts = not (self.missing or self.duplicates or self.stuck or self.unplanned)
        return counts and self.landed and not self.problems

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
            f"{'yes' if self.landed else 'NO'}: {self.evidence}",
        ]  # fmt: skip

    def line(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        unplanned = f"; exits: {', '.join(self.unplanned)}" if self.unplanned else ""
        problems = f"; PROBLEMS: {'; '.join(self.problems)}" if self.problems else ""
        return f"[{verdict}] {' | '.join(self.cells())}  -- {'; '.join(self.notes)}{unplanned}{problems}"


HEADER = [
    "scenario", "expected fires", "rows", "handler runs", "missing", "duplicates", "skipped by design",
    "lost (found in)", "stuck", "processes", "worst lag", "recovered", "fault landed (verified by)",
]  # fmt: skip


def table(outcomes: list[Outcome]) -> str:
    lines = ["| verdict | " + " | ".join(HEADER) + " |", "|" + "---|" * (len(HEADER) + 1)]
    lines += [f"| {'ok' if o.passed else 'FAILED'} | " + " | ".join(o.cells()) + " |" for o in outcomes]
    lines += ["", "Notes:"] + [f"- {o.name}: {'; '.join(o.notes + o.problems)}" for o in outcomes]
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
        f"extract(epoch from finished_at)::float, error FROM {EXECUTIONS} WHERE job_id LIKE %s",
        (f"{prefix}.%",),
    )
    starts, ends = _runs(cluster, prefix)
    ends = {key: value for key, value in ends.items() if key in starts}
    runs_of = Counter((job, second) for job, second, _, _ in starts.values())
    rows_of = defaultdict(list)
    for _, job, second, status, _, _ in rows:
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
    problems = list(fault.problems)
    notes = list(fault.notes)
    # A lost row whose handler ended: its outcome died with a process the fault killed, or a wrong history.
    died = [row for row in lost_rows if row[0] in ends and _outcome_died(starts[row[0]], ends[row[0]], fault)]
    died_ids = {row[0] for row in died}
    stuck = sum(1 for row in rows if row[3] in ("queued", "running")) + sum(
        1 for row in rows if row[3] in ("running", "lost") and row[0] in ends and row[0] not in died_ids
    )
    if died:
        gap = max(0.0, *(fault.began - ends[row[0]] for row in died))
        notes.append(
            f"{len(died)} lost executions had run their handler, which ended at most {gap * 1000:.0f} ms "
            "before its worker was killed (the outcome was not yet written: recorded lost)"
        )
    found_in = max((row[4] - fault.healed for row in lost_rows), default=None)
    late_found = Counter()
    for row in lost_rows:
        bound = lost_bound(row[5] or "")
        if bound is None:
            problems.append(f"lost execution {row[0]}: unexpected reason {row[5]!r}")
        elif row[4] - fault.healed > bound:
            late_found[f"not within {bound:.0f} s ({row[5][:60]}...)"] += 1
    problems += [f"{n} lost executions found {why}" for why, n in late_found.items()]
    if found_in is not None and fault.healed - fault.began > 1:
        after = max(row[4] - fault.began for row in lost_rows)
        notes.append(f"lost found up to {after:.0f} s after the fault began, {found_in:.0f} s after it ended")
    if overlap_skip:
        fault.verified(skipped > 0, f"{skipped} fires found their job's previous run in progress (skipped)")
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
        lost_found_in=found_in,
        stuck=stuck,
        exits=exits,
        worst_lag=max(lags, default=0.0),
        recovered=max(0.0, max(late, default=fault.healed) - fault.healed),
        landed=fault.landed,
        evidence=fault.evidence,
        problems=problems,
        notes=notes,
    )


def _outcome_died(start: tuple, ended: float, fault: Fault) -> bool:
    """A handler of a process the fault killed, ended within ``OUTCOME_WINDOW`` before the kill."""
    _, _, pid, _ = start
    return pid in fault.killed and fault.began - OUTCOME_WINDOW <= ended <= fault.healed


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
