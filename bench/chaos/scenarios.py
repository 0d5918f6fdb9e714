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
    """What happened: when the fault began and ended (Unix time), whether it landed as the scenario
    says (and how that was verified), and what is worth saying.

    ``killed``: the process ids the fault killed (a handler of theirs that ended just before the
    kill may be recorded ``lost``: its outcome died with it). ``problems``: documented behaviour
    the fault showed missing.
    """

    began: float = 0.0
    healed: float = 0.0
    notes: list[str] = field(default_factory=list)
    landed: bool = False
    evidence: str = ""
    killed: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def verified(self, landed: bool, evidence: str) -> Fault:
        self.landed, self.evidence = landed, evidence
        return self


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


def _gone(pids: set[int], timeout: float = 10) -> set[int]:
    """Wait until none of ``pids`` runs (a zombie does not); return those still running."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        left = set()
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    left.add(pid)
            except psutil.NoSuchProcess:
                pass
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def _session(cluster: Cluster, name: str) -> set[int]:
    """The program's process and all its descendants (a qcluster's workers)."""
    import psutil

    pid = cluster.program(name).pid
    try:
        return {pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))}
    except psutil.NoSuchProcess:
        return {pid}


def _kill(cluster: Cluster, name: str, fault: Fault) -> str:
    """SIGKILL a program's session; the evidence that every process of it is gone ('' if not)."""
    pids = _session(cluster, name)
    fault.began = time.time()  # the kill's moment: handlers that ended before it are measured from it
    cluster.program(name).signal(signal.SIGKILL, group=True)
    fault.killed |= pids
    left = _gone(pids)
    if left:
        return ""
    main = cluster.program(name).pid
    others = f" and {len(pids) - 1} children" if len(pids) > 1 else ""
    return f"{name} pid {main}{others} SIGKILLed, all gone"


def no_fault(cluster: Cluster, start: float, d: dict) -> Fault:
    return Fault(time.time(), time.time()).verified(True, "none injected")


def scheduler_kill(cluster: Cluster, start: float, d: dict) -> Fault:
    fault = Fault(time.time())
    evidence = _kill(cluster, SCHEDULERS[0], fault)
    fault.healed = time.time()
    fault.notes.append("SIGKILL chaos-a; restarted after 1 s")
    return fault.verified(bool(evidence), evidence or "chaos-a still running after SIGKILL")


def schedulers_down(cluster: Cluster, start: float, d: dict) -> Fault:
    fault = Fault(time.time())
    evidence = []
    for name in SCHEDULERS:
        cluster.supervisor.hold(name, True)
        evidence.append(_kill(cluster, name, fault))
    time.sleep(d["down"])
    down = not any(cluster.program(name).alive() for name in SCHEDULERS)
    for name in SCHEDULERS:
        cluster.supervisor.hold(name, False)
    fault.healed = time.time()
    fault.notes.append(f"SIGKILL both schedulers, back after {d['down']} s")
    landed = all(evidence) and down
    return fault.verified(
        landed, "; ".join(evidence) + f"; {'none' if down else 'ONE'} running for {d['down']} s"
    )


def qcluster_kill(cluster: Cluster, start: float, d: dict) -> Fault:
    fault = Fault(time.time())
    evidence = _kill(cluster, QCLUSTER, fault)
    fault.healed = time.time()
    fault.notes.append("SIGKILL qcluster and its workers at a fire's instant; restarted after 1 s")
    return fault.verified(bool(evidence), evidence or "a qcluster process survived SIGKILL")


def worker_kill(cluster: Cluster, start: float, d: dict) -> Fault:
    """SIGKILL one worker process while handlers run on it (found from the run log)."""
    import psutil

    for _ in range(10):  # fires every second: a few chances to find handlers running
        descendants = _session(cluster, QCLUSTER) - {cluster.program(QCLUSTER).pid}
        _wait_until(time.time() // 1 + 1.25)  # a quarter second into a fire: the handlers sleep
        running = _handlers_in_flight(cluster)
        victims = [pid for pid in running if pid in descendants]
        if victims:
            break
    else:
        return Fault(time.time(), time.time()).verified(False, "no worker was running a handler")
    pid = max(victims, key=running.get)
    fault = Fault(time.time(), killed={pid})
    psutil.Process(pid).kill()
    fault.healed = time.time()
    gone = not _gone({pid})
    fault.notes.append(f"SIGKILL worker {pid} during {running[pid]} handlers")
    evidence = f"worker pid {pid} SIGKILLed while the run log showed {running[pid]} of its handlers running"
    return fault.verified(gone, evidence + (", gone" if gone else ", STILL RUNNING"))


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


def _answers(connect: Callable[[], object]) -> bool:
    try:
        connect()
    except Exception:
        return False
    return True


def postgres_restart(cluster: Cluster, start: float, d: dict) -> Fault:
    _wait_until(time.time() // 1 + 1.02)  # just after a fire: handlers are writing outcomes
    before = cluster.postgres.postmaster_pid()
    fault = Fault(time.time())
    cluster.postgres.restart()
    fault.healed = time.time()
    after = cluster.postgres.postmaster_pid()
    fault.notes.append(f"pg_ctl restart -m fast took {fault.healed - fault.began:.1f} s")
    landed = before is not None and after is not None and before != after
    return fault.verified(landed, f"postmaster pid {before} replaced by pid {after}")


def postgres_down(cluster: Cluster, start: float, d: dict) -> Fault:
    _wait_until(time.time() // 1 + 1.02)
    before = cluster.postgres.postmaster_pid()
    fault = Fault(time.time())
    cluster.postgres.stop()
    stopped = time.time()
    refused = not _answers(lambda: cluster.sql("SELECT 1")) and not _gone({before} if before else set(), 5)
    time.sleep(max(0.0, stopped + d["down"] - time.time()))
    cluster.postgres.start()
    fault.healed = time.time()
    after = cluster.postgres.postmaster_pid()
    fault.notes.append(f"pg_ctl stop -m fast, started again after {d['down']} s")
    evidence = (
        f"postmaster pid {before} gone and connections {'refused' if refused else 'STILL ACCEPTED'}; "
        f"back as pid {after} after {fault.healed - fault.began:.1f} s"
    )
    return fault.verified(refused and before is not None and after is not None, evidence)


def redis_outage(cluster: Cluster, start: float, d: dict) -> Fault:
    before = cluster.redis.pid()
    fault = Fault(time.time())
    cluster.redis.shutdown_nosave()
    refused = not _answers(lambda: cluster.redis.client().ping()) and cluster.redis.pid() is None
    time.sleep(max(0.0, fault.began + d["down"] - time.time()))
    cluster.redis.start()
    fault.healed = time.time()
    fault.notes.append(f"Redis SHUTDOWN NOSAVE, back after {d['down']} s")
    evidence = (
        f"redis-server pid {before} exited, connections {'refused' if refused else 'STILL ACCEPTED'}; "
        f"back as pid {cluster.redis.pid()} after {fault.healed - fault.began:.1f} s"
    )
    return fault.verified(refused and before is not None, evidence)


def redis_loses_tasks(cluster: Cluster, start: float, d: dict) -> Fault:
    """Tasks pile up in Redis while the qcluster is down, then Redis restarts without them."""
    fault = Fault(time.time())
    cluster.supervisor.hold(QCLUSTER, True)
    killed = _kill(cluster, QCLUSTER, fault)
    time.sleep(d["pile"])
    queued = cluster.queued_tasks()
    before = cluster.redis.pid()
    cluster.redis.shutdown_nosave()
    cluster.redis.start()
    # The schedulers push the next fires' tasks at once: the check is that none of the old is left.
    left = len(queued & cluster.queued_tasks())
    lost = len(queued)
    cluster.supervisor.hold(QCLUSTER, False)
    fault.healed = time.time()
    fault.notes.append(f"{lost} tasks queued in Redis lost by a restart without persistence")
    evidence = (
        f"{killed or 'a qcluster process SURVIVED SIGKILL'}; {lost} tasks queued in Redis, "
        f"{left} of them left after its restart (pid {before} -> {cluster.redis.pid()})"
    )
    return fault.verified(bool(killed) and lost > 0 and left == 0, evidence)


def _claim_released(cluster: Cluster, held, fault: Fault) -> None:
    """The docs' promise: PostgreSQL ends the stalled claim's session within ``CLAIM_TIMEOUT``."""
    from django_scheduler_api.conf import scheduler_settings

    bound = float(scheduler_settings.CLAIM_TIMEOUT) + CLAIM_SLACK
    ended = cluster.session_ended(held.backend, held.at, bound)
    if ended is None:
        fault.problems.append(f"the stalled claim's session was not ended within {bound:.0f} s")
    else:
        fault.notes.append(f"PostgreSQL ended the stalled claim's session {ended:.1f} s after the stop")


def frozen_scheduler(cluster: Cluster, start: float, d: dict) -> Fault:
    """SIGSTOP a scheduler inside its claim (whichever claims the next fire), SIGCONT after a while."""
    held = cluster.stop_in_claim()
    fault = Fault(held.at or time.time())
    if not held.landed:
        return fault.verified(False, held.evidence)
    _claim_released(cluster, held, fault)
    time.sleep(max(0.0, fault.began + d["frozen"] - time.time()))
    cluster.program(held.name).signal(signal.SIGCONT)
    fault.healed = time.time()
    fault.notes.append(
        f"SIGSTOP {held.name} inside its claim for {fault.healed - fault.began:.0f} s, then SIGCONT"
    )
    return fault.verified(True, held.evidence)


def partition(cluster: Cluster, start: float, d: dict) -> Fault:
    """Cut a scheduler's link while its claim holds job rows locked, for longer than NODE_TIMEOUT."""
    held = cluster.stop_in_claim()
    fault = Fault(held.at or time.time())
    if not held.landed:
        return fault.verified(False, held.evidence)
    namespace = cluster.namespaces[held.name]
    namespace.cut()
    unreachable = not namespace.reaches(cluster.postgres.port)
    cluster.program(held.name).signal(signal.SIGCONT)
    _claim_released(cluster, held, fault)
    time.sleep(max(0.0, fault.began + d["partition"] - time.time()))
    namespace.heal()
    fault.healed = time.time()
    fault.notes.append(
        f"{held.name}'s link down during its claim for {fault.healed - fault.began:.0f} s, then up"
    )
    evidence = (
        f"{held.evidence}; link {namespace.outer} cut "
        f"({'PostgreSQL unreachable' if unreachable else 'PostgreSQL STILL REACHABLE'} from inside), "
        "then SIGCONT"
    )
    return fault.verified(unreachable, evidence)


CLAIM_SLACK = 5.0  # seconds beyond CLAIM_TIMEOUT for the server to notice and the harness to look


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
