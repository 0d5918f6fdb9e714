"""The deployment under test: services, two schedulers, a qcluster, and the harness's view of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.chaos.handlers import RUN_LOG
from bench.chaos.services import HOST, Namespace, Postgres, Redis
from bench.chaos.supervisor import Managed, Supervisor

ROOT = Path(__file__).resolve().parents[2]
SCHEDULERS = ("chaos-a", "chaos-b")
QCLUSTER = "qcluster"
EXECUTIONS = "django_scheduler_api_execution"
JOBS = "django_scheduler_api_job"


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
        for name in SCHEDULERS:
            namespace = self.namespaces.get(name)
            prefix = namespace.prefix() if namespace else []
            host = namespace.host_address if namespace else HOST
            command = [*prefix, sys.executable, "-m", "django", "run_scheduler", "--node-name", name]
            self.supervisor.add(
                Managed(name, command, self.env(host, name), self.dir / f"{name}.log", cwd=ROOT)
            )
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
        self.supervisor.stop()
        self.redis.destroy()
        self.postgres.destroy()
        for namespace in self.namespaces.values():
            namespace.destroy()
        if not self.keep:
            subprocess.run(["rm", "-rf", str(self.dir)], check=False)

    # -- looking --------------------------------------------------------------------------------

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(**self.postgres.dsn()) as conn:
            return conn.execute(query, params).fetchall()

    def program(self, name: str) -> Managed:
        return self.supervisor.programs[name]

    def cpu_seconds(self, name: str) -> float:
        import psutil

        try:
            times = psutil.Process(self.program(name).pid).cpu_times()
            return times.user + times.system
        except psutil.Error:
            return 0.0

    def freeze_in_claim(self, name: str, timeout: float = 30) -> bool:
        """SIGSTOP scheduler ``name`` while its claim transaction holds job rows locked.

        Polls ``pg_stat_activity`` for the connection idle inside a transaction that locked rows
        of the job table (``FOR UPDATE`` gives it a transaction id; a claim that found every due row
        locked by the other scheduler has none); stops the process, looks again (a stopped process
        cannot move on) and lets it go on if the moment was missed. False: stopped, but not inside a
        claim.
        """
        program = self.program(name)
        query = (
            "SELECT 1 FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
            "JOIN pg_class c ON c.oid = l.relation WHERE a.application_name = %s "
            "AND a.state LIKE 'idle in transaction%%' AND a.backend_xid IS NOT NULL "
            "AND c.relname = %s AND l.mode = 'RowShareLock'"
        )
        deadline = time.monotonic() + timeout
        with psycopg.connect(**self.postgres.dsn()) as conn:
            while time.monotonic() < deadline:
                if conn.execute(query, (name, JOBS)).fetchone():
                    program.signal(signal.SIGSTOP)
                    if conn.execute(query, (name, JOBS)).fetchone():
                        return True
                    program.signal(signal.SIGCONT)
                time.sleep(0.001)
        program.signal(signal.SIGSTOP)
        return False

    def queued_tasks(self) -> int:
        client = self.redis.client()
        return sum(client.llen(key) for key in client.scan_iter("*chaos*") if client.type(key) == b"list")
