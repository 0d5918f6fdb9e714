"""The services a chaos run owns: a PostgreSQL cluster, a Redis server, network namespaces.

Nothing here touches the machine's own PostgreSQL or Redis: both are started from their binaries
in a temporary directory, on spare ports, and stopped by the process ids this module started.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"


def spare_port() -> int:
    """A TCP port nothing listens on now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_port(host: str, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on {host}:{port}")


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and the server refuse to run as root: run them as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Postgres:
    """A throw-away PostgreSQL cluster (``initdb`` + ``pg_ctl``), trust authentication."""

    def __init__(self, root: Path, addresses: list[str]) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not binaries:
            raise RuntimeError("needs PostgreSQL's server binaries (apt-get install postgresql)")
        self.bin = Path(binaries[-1]).parent
        self.root = root / "postgres"
        self.data = self.root / "data"
        self.port = spare_port()
        self.addresses = addresses

    def _ctl(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), *args]), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def create(self) -> None:
        self.root.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            _as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                          "--no-sync", "-E", "UTF8"]),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write("host all all 10.231.0.0/16 trust\n")  # the schedulers' namespaces
        self.start()
        createdb = [str(self.bin / "createdb"), "-h", HOST, "-p", str(self.port), "-U", "postgres", "chaos"]
        subprocess.run(createdb, check=True)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses='{','.join(self.addresses)}' -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._ctl("start", "-w", "-l", str(self.root / "server.log"), "-o", options)

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast", "-w")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast", "-w", "-l", str(self.root / "server.log"))

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass

    def postmaster_pid(self) -> int | None:
        """The running server's process id (the first line of ``postmaster.pid``), or None."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    def dsn(self) -> dict:
        return {"host": HOST, "port": self.port, "user": "postgres", "dbname": "chaos", "autocommit": True,
                "connect_timeout": 5}  # fmt: skip


class Redis:
    """A throw-away Redis server without persistence: ``shutdown nosave`` loses what it holds."""

    def __init__(self, root: Path, addresses: list[str]) -> None:
        self.root = root / "redis"
        self.port = spare_port()
        self.addresses = addresses
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.root.mkdir(exist_ok=True)
        log = open(self.root / "server.log", "ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", " ".join(self.addresses), "--save", "",
             "--appendonly", "no", "--dir", str(self.root), "--protected-mode", "no"],
            stdout=log, stderr=log,
        )  # fmt: skip
        wait_port(HOST, self.port)

    def client(self):
        import redis

        return redis.Redis(host=HOST, port=self.port, socket_timeout=5)

    def shutdown_nosave(self) -> None:
        """``SHUTDOWN NOSAVE``: the server exits at once and everything queued in it is gone."""
        import redis

        try:
            self.client().shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it goes
        if self.process is not None:
            self.process.wait(10)

    def destroy(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def pid(self) -> int | None:
        """The server's process id while it runs, else None."""
        if self.process is None or self.process.poll() is not None:
            return None
        return self.process.pid

    def url(self, host: str) -> str:
        return f"redis://{host}:{self.port}/0?socket_timeout=5&socket_connect_timeout=5"


class Namespace:
    """A network namespace joined to the host by a veth pair: ``10.231.N.2`` inside, ``.1`` outside.

    Cutting the host's end (``cut``) is a network partition of whatever runs inside; ``heal``
    brings the link back. Only traffic between the namespace and the host passes.
    """

    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self.outer = f"chaos{index}o"
        self.inner = f"chaos{index}i"
        self.host_address = f"10.231.{index}.1"
        self.address = f"10.231.{index}.2"

    @staticmethod
    def available() -> bool:
        return os.geteuid() == 0 and shutil.which("ip") is not None

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, stdout=subprocess.DEVNULL)

    def create(self) -> None:
        self.destroy()
        self._ip("netns", "add", self.name)
        self._ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        self._ip("link", "set", self.inner, "netns", self.name)
        self._ip("addr", "add", f"{self.host_address}/30", "dev", self.outer)
        self._ip("link", "set", self.outer, "up")
        self._ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.address}/30", "dev", self.inner)
        self._ip("netns", "exec", self.name, "ip", "link", "set", self.inner, "up")
        self._ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")

    def prefix(self) -> list[str]:
        """The command prefix that runs a program inside (``ip netns exec`` execs, so the pid stays)."""
        return ["ip", "netns", "exec", self.name]

    def cut(self) -> None:
        self._ip("link", "set", self.outer, "down")

    def reaches(self, port: int, timeout: float = 1.0) -> bool:
        """Whether a TCP connection from inside the namespace to the host's end on ``port`` opens."""
        probe = (
            "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), "
            f"timeout={timeout}).close()"
        )
        command = [*self.prefix(), sys.executable, "-c", probe, self.host_address, str(port)]
        return subprocess.run(command, stderr=subprocess.DEVNULL, timeout=timeout + 10).returncode == 0

    def heal(self) -> None:
        self._ip("link", "set", self.outer, "up")

    def destroy(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "link", "del", self.outer], stderr=subprocess.DEVNULL)
