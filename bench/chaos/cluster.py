"""The deployment under test: services, two schedulers, a qcluster, and the harness's view of them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.chaos.barrier import BARRIER
from bench.chaos.handlers import RUN_LOG
from bench.chaos.services import HOST, Namespace, Postgres, Redis
from bench.chaos.supervisor import Managed, Supervisor

ROOT = Path(__file__).resolve().parents[2]
SCHEDULERS = ("chaos-a", "chaos-b")
QCLUSTER = "qcluster"
EXECUTIONS = "django_scheduler_api_execution"
JOBS = "django_scheduler_api_job"


@dataclass
class Held:
    """A scheduler stopped inside its claim (``Cluster.stop_in_claim``): whether it was proved."""

    landed: bool
    evidence: str
    name: str = ""  # the scheduler stopped
    backend: int = 0
    at: float = 0.0  # when the process stopped itself (Unix time)


class Cluster:
    """Everything one chaos run starts, and stops again in ``close``."""

    def __init__(self, *, netns: bool, settings: dict[str, str], keep: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="chaos-"))
        os.chmod(self.dir, 0o755)
        self.keep = keep
        self.run_log = self.dir / "runs.log"
        self.namespaces = {name: Namespace(name, i + 1) for i, name in enumerate(SCHEDULERS)} if netns else {}
        addresses = [HOST, *(ns.host_address for ns in self.namespaces.values())]
        self.postgres = Postgres(self.dir, addresses)
        self.redis = Redis(self.dir, addresses)
        self.settings = settings
        self.supervisor = Supervisor()

    # -- starting ---------------------------------------------------------------------------------

    def open(self) -> None:
        for namespace in self.namespaces.values():
            namespace.create()
        self.postgres.create()
        self.redis.start()
        os.environ.update(self.env(HOST, "chaos-harness"))
        subprocess.run(
            [sys.executable, "-m", "django", "migrate", "-v0"], cwd=ROOT, env=os.environ, check=True
        )
        self.sql("CREATE EXTENSION IF NOT EXISTS pgrowlocks")  # proves a stopped claim's row locks
        for name in SCHEDULERS:
            namespace = self.namespaces.get(name)
            prefix = namespace.prefix() if namespace else []
            host = namespace.host_address if namespace else HOST
            command = [*prefix, sys.executable, "-m", "django", "run_scheduler", "--node-name", name]
            env = {**self.env(host, name), BARRIER: self.barrier()}
            self.supervisor.add(Managed(name, command, env, self.dir / f"{name}.log", cwd=ROOT))
        command = [sys.executable, "-m", "django", "qcluster"]
        self.supervisor.add(
            Managed(QCLUSTER, command, self.env(HOST, QCLUSTER), self.dir / "qcluster.log", cwd=ROOT)
        )
        self.supervisor.start()
        self.wait_healthy()

    def env(self, host: str, role: str) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "bench.chaos.settings",
            "CHAOS_PGHOST": host,
            "CHAOS_PGPORT": str(self.postgres.port),
            "CHAOS_REDIS_URL": self.redis.url(host),
            "CHAOS_ROLE": role,
            RUN_LOG: str(self.run_log),
            **{f"CHAOS_{key}": value for key, value in self.settings.items()},
        }

    def wait_healthy(self, timeout: float = 60) -> None:
        """Until both schedulers have a node row and every program runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                nodes = {row[0] for row in self.sql("SELECT name FROM django_scheduler_api_schedulernode")}
            except psycopg.Error:
                nodes = set()
            if set(SCHEDULERS) <= nodes and all(p.alive() for p in self.supervisor.programs.values()):
                time.sleep(2)  # the workers' start-up (handler threads, gc.freeze)
                return
            time.sleep(0.5)
        raise RuntimeError(f"the deployment did not come up; logs in {self.dir}")

    def close(self) -> None:
        """Stop everything this run started, each step even if one before it failed."""
        steps = [self.supervisor.stop, self.redis.destroy, self.postgres.destroy]
        steps += [namespace.destroy for namespace in self.namespaces.values()]
        for step in steps:
            try:
                step()
            except Exception as exc:  # the next step must run all the same
                print(f"cleanup: {step.__qualname__} failed: {exc!r}", file=sys.stderr)
        if not self.keep:
            subprocess.run(["rm", "-rf", str(self.dir)], check=False)

    # -- looking --------------------------------------------------------------------------------

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(**self.postgres.dsn()) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description is not None else []

    def program(self, name: str) -> Managed:
        return self.supervisor.programs[name]

    def cpu_seconds(self, name: str) -> float:
        import psutil

        try:
            times = psutil.Process(self.program(name).pid).cpu_times()
            return times.user + times.system
        except psutil.Error:
            return 0.0

    def stop_in_claim(self, timeout: float = 30) -> Held:
        """Stop a scheduler inside a claim that holds job rows locked, and prove it.

        Arms the barrier the two schedulers share (``barrier.py``): the next claim of either that
        locks due jobs takes the arm (one only: the file is unlinked) and sends its own process
        ``SIGSTOP`` right after the ``SELECT ... FOR UPDATE SKIP LOCKED``. Both are armed because
        the fires of an instant go to whichever scheduler wakes first: an arm on one alone waited
        30 s in vain when the other won every race. Then checks from outside that it landed: the
        process is stopped (``T``), its backend is idle in a transaction, and ``pgrowlocks`` finds
        the job rows locked by that backend. ``Held.landed`` is False (and the process is let go)
        when any of these is missing.
        """
        import psutil

        base = self.barrier()
        held_file = Path(base + ".held")
        held_file.unlink(missing_ok=True)
        Path(base + ".armed").touch()
        deadline = time.monotonic() + timeout
        while not held_file.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        if not held_file.exists():
            try:
                os.unlink(base + ".armed")
            except FileNotFoundError:  # taken just now: the claim is stopping
                time.sleep(1)
            if not held_file.exists():
                return Held(False, f"no scheduler's claim locked a row within {timeout:.0f} s")
        held = json.loads(held_file.read_text())
        name = held["name"]
        process = psutil.Process(held["pid"])
        while process.status() != psutil.STATUS_STOPPED and time.monotonic() < deadline + 5:
            time.sleep(0.001)
        stopped = process.status() == psutil.STATUS_STOPPED
        backend = held["backend_pid"]
        row = self.sql(
            "SELECT a.state, a.backend_xid::text, (SELECT count(*) FROM pgrowlocks(%s) r "
            "WHERE a.pid = ANY(r.pids)) FROM pg_stat_activity a WHERE a.pid = %s",
            (JOBS, backend),
        )
        state, xid, locked = row[0] if row else ("gone", None, 0)
        landed = stopped and state.startswith("idle in transaction") and locked == held["rows"] > 0
        evidence = (
            f"{name} (pid {held['pid']}) {'stopped' if stopped else 'NOT stopped'} by the barrier after "
            f"its claim locked {held['rows']} job rows; its backend {backend} was {state} (xid {xid}) "
            f"and held {locked} job row locks (pgrowlocks) "
            f"{time.time() - held['at']:.2f} s after the stop"
        )
        if not landed:
            self.program(name).signal(signal.SIGCONT)
        return Held(landed, evidence, name, backend, held["at"])

    def session_ended(self, backend: int, since: float, timeout: float) -> float | None:
        """Seconds from ``since`` until PostgreSQL ended session ``backend`` (None: not within
        ``timeout`` seconds of ``since``)."""
        deadline = since + timeout
        while time.time() < deadline:
            if not self.sql("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend,)):
                return time.time() - since
            time.sleep(0.05)
        return None

    def barrier(self) -> str:
        """The path prefix of the schedulers' barrier files (``barrier.py``)."""
        return str(self.dir / "barrier")

    def queued_tasks(self) -> set[bytes]:
        """The task packages waiting in the suite's django-q2 queue(s) in Redis."""
        client = self.redis.client()
        keys = [key for key in client.scan_iter("*chaos*") if client.type(key) == b"list"]
        return {package for key in keys for package in client.lrange(key, 0, -1)}
