"""The harness's process supervisor: restart what exits, as systemd's ``Restart=always`` would.

Each process is started in a session of its own (so a ``qcluster`` and its workers can be killed
together). An exit the harness caused (``kill``) is planned; any other exit is counted, with its
status, as the process failing to survive a fault, and the process is started again after
``RESTART_SEC`` unless the harness holds it down (``hold``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

RESTART_SEC = 1.0
POLL = 0.2


@dataclass
class Exit:
    at: float
    status: int | None
    planned: bool


@dataclass
class Managed:
    """One supervised program."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    cwd: Path | None = None
    process: subprocess.Popen | None = None
    exits: list[Exit] = field(default_factory=list)
    held: bool = False
    _planned: bool = False
    _down_since: float | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            out.write(f"--- start {time.strftime('%H:%M:%S')}\n".encode())
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.cwd,
            )
        self._planned = False
        self._down_since = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int, *, group: bool = False) -> None:
        """Send ``sig`` to the process (or its whole session); a SIGKILL is a planned exit."""
        if sig == signal.SIGKILL:
            self._planned = True
        if self.alive():
            (os.killpg if group else os.kill)(self.pid, sig)

    def unplanned_exits(self) -> list[Exit]:
        return [e for e in self.exits if not e.planned]


class Supervisor:
    """Polls the managed programs; records exits and restarts them."""

    def __init__(self) -> None:
        self.programs: dict[str, Managed] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def add(self, program: Managed) -> Managed:
        self.programs[program.name] = program
        program.start()
        return program

    def start(self) -> None:
        self._thread.start()

    def hold(self, name: str, held: bool) -> None:
        with self._lock:
            self.programs[name].held = held

    def _run(self) -> None:
        while not self._stop.wait(POLL):
            with self._lock:
                for program in self.programs.values():
                    self._look_after(program)

    def _look_after(self, program: Managed) -> None:
        if program.process is None or program.alive():
            return
        now = time.time()
        if program._down_since is None:
            program._down_since = now
            program.exits.append(Exit(now, program.process.returncode, program._planned))
            try:
                os.killpg(program.pid, signal.SIGKILL)  # workers the program left behind
            except ProcessLookupError:
                pass
        if not program.held and now - program._down_since >= RESTART_SEC:
            program.start()

    def stop(self) -> None:
        """Stop supervising, then end every program: SIGTERM, and SIGKILL to what is left."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        for program in self.programs.values():
            if program.alive():
                os.killpg(program.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for program in self.programs.values():
            if program.process is not None:
                try:
                    program.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
                try:
                    os.killpg(program.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
