"""The faults: each scenario seeds its jobs, injects one fault at a set second and says when it healed.

Durations come in two sizes: the full suite (``make chaos``) and ``--quick`` (short versions of the
same faults, for a look in a couple of minutes).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.chaos.cluster import QCLUSTER, SCHEDULERS, Cluster


@dataclass
class Fault:
    """What happened: when the fault began and ended (Unix time), and what is worth saying."""

    began: float = 0.0
    healed: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Scenario:
    name: str
    seconds: int  # how long the jobs fire
    inject: Callable[[Cluster, float, dict], Fault]  # (cluster, first fire second, durations)
    at: int = 5  # the fault begins this many seconds after the first fire
    sleep: float = 0.0  # each handler's duration
    overlap: str = "allow"
    needs_netns: bool = False


def _wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def no_fault(cluster: Cluster, start: float, d: dict) -> Fault:
    return Fault(time.time(), time.time())


def scheduler_kill(cluster: Cluster, start: float, d: dict) -> Fault:
    cluster.program(SCHEDULERS[0]).signal(signal.SIGKILL, group=True)
    return Fault(time.time(), time.time(), ["SIGKILL chaos-a; restarted after 1 s"])


def schedulers_down(cluster: Cluster, start: float, d: dict) -> Fault:
    fault = Fault(time.time())
    for name in SCHEDULERS:
        cluster.supervisor.hold(name, True)
        cluster.program(name).signal(signal.SIGKILL, group=True)
    time.sleep(d["down"])
    for name in SCHEDULERS:
        cluster.supervisor.hold(name, False)
    fault.healed = time.time()
    fault.notes.append(f"SIGKILL both schedulers, back after {d['down']} s")
    return fault


def qcluster_kill(cluster: Cluster, start: float, d: dict) -> Fault:
    cluster.program(QCLUSTER).signal(signal.SIGKILL, group=True)
    return Fault(time.time(), time.time(), ["SIGKILL qcluster and its workers; restarted after 1 s"])


def worker_kill(cluster: Cluster, start: float, d: dict) -> Fault:
    """SIGKILL one worker process while handlers run on it (found from the run log)."""
    import psutil

    qcluster = psutil.Process(cluster.program(QCLUSTER).pid)
    descendants = {p.pid for p in qcluster.children(recursive=True)}
    _wait_until(time.time() // 1 + 1.25)  # a quarter second into a fire: the handlers sleep
    running = _handlers_in_flight(cluster)
    victims = [pid for pid in running if pid in descendants]
    if not victims:
        return Fault(time.time(), time.time(), ["no worker was running a handler"])
    pid = max(victims, key=running.get)
    psutil.Process(pid).kill()
    return Fault(time.time(), time.time(), [f"SIGKILL worker {pid} during {running[pid]} handlers"])


def _handlers_in_flight(cluster: Cluster) -> dict[int, int]:
    """Worker pid -> handlers started and not ended, from the run log."""
    started: dict[str, int] = {}
    for line in cluster.run_log.read_text().splitlines():
        parts = line.split()
        if parts[0] == "S":
            started[parts[1]] = int(parts[4])
        elif parts[0] == "E":
            started.pop(parts[1], None)
    counts: dict[int, int] = {}
    for pid in started.values():
        counts[pid] = counts.get(pid, 0) + 1
    return counts


def postgres_restart(cluster: Cluster, start: float, d: dict) -> Fault:
    _wait_until(time.time() // 1 + 1.02)  # just after a fire: handlers are writing outcomes
    fault = Fault(time.time())
    cluster.postgres.restart()
    fault.healed = time.time()
    fault.notes.append(f"pg_ctl restart -m fast took {fault.healed - fault.began:.1f} s")
    return fault


def postgres_down(cluster: Cluster, start: float, d: dict) -> Fault:
    _wait_until(time.time() // 1 + 1.02)
    fault = Fault(time.time())
    cluster.postgres.stop()
    time.sleep(d["down"])
    cluster.postgres.start()
    fault.healed = time.time()
    fault.notes.append(f"pg_ctl stop -m fast, started again after {d['down']} s")
    return fault


def redis_outage(cluster: Cluster, start: float, d: dict) -> Fault:
    fault = Fault(time.time())
    cluster.redis.shutdown_nosave()
    time.sleep(d["down"])
    cluster.redis.start()
    fault.healed = time.time()
    fault.notes.append(f"Redis SHUTDOWN NOSAVE, back after {d['down']} s")
    return fault


def redis_loses_tasks(cluster: Cluster, start: float, d: dict) -> Fault:
    """Tasks pile up in Redis while the qcluster is down, then Redis restarts without them."""
    fault = Fault(time.time())
    cluster.supervisor.hold(QCLUSTER, True)
    cluster.program(QCLUSTER).signal(signal.SIGKILL, group=True)
    time.sleep(d["pile"])
    lost = cluster.queued_tasks()
    cluster.redis.shutdown_nosave()
    cluster.redis.start()
    cluster.supervisor.hold(QCLUSTER, False)
    fault.healed = time.time()
    fault.notes.append(f"{lost} tasks queued in Redis lost by a restart without persistence")
    return fault


def frozen_scheduler(cluster: Cluster, start: float, d: dict) -> Fault:
    name = SCHEDULERS[0]
    in_claim = cluster.freeze_in_claim(name)
    fault = Fault(time.time())
    time.sleep(d["frozen"])
    cluster.program(name).signal(signal.SIGCONT)
    fault.healed = time.time()
    where = "inside its claim (job rows locked)" if in_claim else "(the claim was not caught)"
    fault.notes.append(f"SIGSTOP chaos-a {where} for {d['frozen']} s, then SIGCONT")
    return fault


def partition(cluster: Cluster, start: float, d: dict) -> Fault:
    """Cut chaos-a's link while its claim holds job rows locked, for longer than NODE_TIMEOUT."""
    name = SCHEDULERS[0]
    in_claim = cluster.freeze_in_claim(name)
    cluster.namespaces[name].cut()
    cluster.program(name).signal(signal.SIGCONT)
    fault = Fault(time.time())
    time.sleep(d["partition"])
    cluster.namespaces[name].heal()
    fault.healed = time.time()
    where = "during its claim" if in_claim else "(the claim was not caught)"
    fault.notes.append(f"chaos-a's link down {where} for {d['partition']} s, then up")
    return fault


SCENARIOS = [
    Scenario("no fault (control)", 15, no_fault),
    Scenario("scheduler SIGKILL", 25, scheduler_kill),
    Scenario("both schedulers killed", 40, schedulers_down),
    Scenario("qcluster SIGKILL", 25, qcluster_kill),
    Scenario("worker SIGKILL mid-handler", 25, worker_kill, sleep=0.5),
    Scenario("PostgreSQL restart -m fast", 25, postgres_restart, sleep=0.3),
    Scenario("PostgreSQL down", 40, postgres_down, sleep=0.3),
    Scenario("Redis outage (shutdown nosave)", 35, redis_outage),
    Scenario("Redis restarted, queued tasks lost", 35, redis_loses_tasks),
    Scenario("scheduler frozen in its claim", 100, frozen_scheduler),
    Scenario("network partition of a scheduler", 60, partition, needs_netns=True),
    Scenario("slow handler, overlap skip", 20, no_fault, sleep=2.5, overlap="skip"),
]
FULL = {"down": 20, "pile": 10, "frozen": 90, "partition": 40}
QUICK = {"down": 8, "pile": 5, "frozen": 20, "partition": 15}
QUICK_SECONDS = {"scheduler frozen in its claim": 30, "network partition of a scheduler": 30}
