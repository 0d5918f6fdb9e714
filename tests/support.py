"""Helpers for tests that start real processes (qcluster, run_scheduler) or need real services.

Tests that need a service or a tool skip outside CI with a reason that says what to install; with
``CI=true`` they fail instead, because CI installs and starts everything.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def scheduler(*args: str) -> str:
    """Run ``manage.py scheduler`` (the CLI) in this process; its stdout."""
    out = StringIO()
    call_command("scheduler", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when a service or tool the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this: {reason}", pytrace=False)
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    require(
        port_open(os.environ.get("PGHOST", "127.0.0.1"), int(os.environ.get("PGPORT", "5432"))),
        "needs PostgreSQL on 127.0.0.1:5432 (apt-get install postgresql, then start it)",
    )


def require_redis() -> None:
    require(
        port_open("127.0.0.1", 6379),
        "needs Redis on 127.0.0.1:6379 (apt-get install redis-server, then start it)",
    )


def postgres_suite_only(feature: str) -> None:
    """Skip a test of PostgreSQL-only behaviour when the suite runs on another database.

    Not a missing service: ``make test-postgres`` (which CI runs too) runs the test.
    """
    if connection.vendor != "postgresql":
        pytest.skip(f"{feature}: PostgreSQL only; `make test-postgres` runs this test")


def require_executable(name: str, package: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"needs {name} (apt-get install {package})")
    return path or ""


def wait_for(predicate: Callable[[], object], timeout: float = 30, interval: float = 0.05):
    """Poll until ``predicate()`` is truthy and return its value; fail with a message at timeout.

    The timeout is a liveness bound (something never happened), not a speed requirement.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child Django process that uses the test database this suite created."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "tests.settings"),
        SCHEDULER_TEST_DB_NAME=str(connection.settings_dict["NAME"]),
        SCHEDULER_TEST_Q_SYNC="0",
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class ManagedProcess:
    """A ``manage.py``-style command in a child process, its output collected, stopped on exit."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, ready: str | None = None):
        self.args = [sys.executable, "-m", "django", *args]
        self.env = env or child_env()
        self.ready = ready
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60) -> ManagedProcess:
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        if self.ready is not None and not self._ready.wait(timeout):
            self.stop()
            raise AssertionError(f"{' '.join(self.args)} not ready:\n{self.output}")
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if self.ready is not None and self.ready in line:
                self._ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the whole process group (qcluster forks workers)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM to the leader only (a SIGTERM to qcluster's whole group makes it hang), then
        SIGKILL to whatever of the group is left."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        self._kill_group()
        return code if code is not None else self.proc.wait(5)

    def _kill_group(self) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)


def run_tasks(limit: int = 10_000) -> int:
    """Run the tasks django-q2's configured broker holds, as a ``qcluster`` would, in this process;
    returns how many ran.

    The engine's tests send with django-q2's ``sync`` off, the path production takes: the scheduler
    makes the tasks in its claim, pushes them to the real broker after the commit, and the outbox
    watches them. This takes them off that broker (``dequeue``, as the cluster's pusher does) and
    hands each to django-q2's own ``worker`` and ``monitor`` functions, the code a cluster's worker
    and monitor processes run; only the processes are left out, so that a test in a transaction
    (``db``) sees what the handlers wrote. Tests of what only separate processes show (a kill, a
    timeout, two workers racing) start a real ``qcluster`` instead.
    """
    import django_q.monitor
    import django_q.worker
    from django_q.brokers import get_broker

    broker = get_broker()
    # A worker process closes its database connections between tasks (django-q2 1.11 skips that
    # for a task marked ``sync``, as below; 1.7, the lowest supported, only under the ``sync``
    # option): here the connection is the test's, holding its transaction, so nothing closes it.
    modules = (django_q.worker, django_q.monitor)
    closers = [(module, module.close_old_django_connections) for module in modules]
    for module, _ in closers:
        module.close_old_django_connections = lambda: None
    try:
        return _run_queued(broker, limit)
    finally:
        for module, close in closers:
            module.close_old_django_connections = close


def _run_queued(broker: Any, limit: int) -> int:
    """``run_tasks``' loop: dequeue, run through django-q2's worker and monitor, until empty."""
    from multiprocessing import Queue, Value

    from django_q.conf import Conf
    from django_q.monitor import monitor
    from django_q.signing import SignedPackage
    from django_q.worker import worker

    ran = 0
    while ran < limit and broker.queue_size():
        packages = broker.dequeue() or []
        tasks, results = Queue(), Queue()
        for ack_id, package in packages:
            task = SignedPackage.loads(package)
            # ``sync`` on the task (not django-q2's option): an exception of the task itself is
            # raised here, in the test, instead of being recorded as a failed django-q2 task.
            task.update(cluster=Conf.CLUSTER_NAME, ack_id=ack_id, sync=True)
            tasks.put(task)
        tasks.put("STOP")
        worker(tasks, results, Value("f", -1))
        results.put("STOP")
        monitor(results, broker)
        for queue in (tasks, results):
            queue.close()
            queue.join_thread()
        ran += len(packages)
    return ran


def start_qcluster(**env: str) -> ManagedProcess:
    """A real django-q2 cluster on the test database, returned once it reports running."""
    return ManagedProcess(
        "qcluster", env=child_env(SCHEDULER_TEST_Q_LOG_LEVEL="INFO", **env), ready="running."
    ).start()
