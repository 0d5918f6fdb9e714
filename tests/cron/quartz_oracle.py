"""Talks to the real Quartz 2.3.2 through the small Java helper in ``tests/cron/quartz/``.

One JVM serves a whole test session: requests are streamed to it as lines and the
answers read back in order, which keeps thousands of questions to a few seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

HELPER_SOURCE = Path(__file__).parent / "quartz" / "QuartzOracle.java"
JAR_CANDIDATES = (
    "/usr/share/java/quartz2.jar",
    "/usr/share/java/quartz2-2.3.2.jar",
    "/usr/share/maven-repo/org/quartz-scheduler/quartz/2.3.2/quartz-2.3.2.jar",
)
INSTALL_HINT = "install libquartz2-java and a JDK: apt-get install libquartz2-java default-jdk-headless"


@dataclass(frozen=True)
class Request:
    """Ask for ``count`` fire times of ``expression`` after ``start`` (epoch s) in ``zone``."""

    expression: str
    start: int
    zone: str
    count: int = 20

    def line(self) -> str:
        if "\n" in self.expression or "\r" in self.expression:
            raise ValueError("the helper reads one request a line")
        return f"{self.start}\t{self.zone}\t{self.count}\t{self.expression}\n"


@dataclass(frozen=True)
class Answer:
    """Quartz's verdict: ``kind`` is OK, REFUSED, CRASH or HANG; ``times`` in epoch seconds."""

    kind: str
    times: tuple[int, ...] = ()
    message: str = ""

    @classmethod
    def from_line(cls, line: str) -> Answer:
        kind, _, rest = line.rstrip("\n").partition(" ")
        if kind == "OK":
            return cls(kind, tuple(int(t) for t in rest.split()))
        return cls(kind, message=rest)


def find_tools() -> tuple[str, str, str] | None:
    """(java, javac, quartz jar) when all three are on this machine."""
    java, javac = shutil.which("java"), shutil.which("javac")
    jars = [os.environ.get("QUARTZ_JAR", ""), *JAR_CANDIDATES]
    jar = next((j for j in jars if j and Path(j).is_file()), None)
    if java and javac and jar:
        return java, javac, jar
    return None


class QuartzOracle:
    """A running ``QuartzOracle`` JVM, restarted after Quartz hangs on a request."""

    def __init__(self, java: str, javac: str, jar: str, build_dir: Path) -> None:
        build_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [javac, "-nowarn", "-cp", jar, "-d", str(build_dir), str(HELPER_SOURCE)],
            check=True,
            capture_output=True,
        )
        classpath = f"{build_dir}{os.pathsep}{jar}"
        self._command = [java, "-Xss8m", "-XX:+UseSerialGC", "-cp", classpath, "QuartzOracle"]
        self._process = self._start()

    def _start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def ask(self, requests: list[Request]) -> list[Answer]:
        """Answers in the order of the requests."""
        answers: list[Answer] = []
        while len(answers) < len(requests):
            answers += self._ask_until_hang(requests[len(answers) :])
            if answers[-1].kind == "HANG":
                self._stop()
                self._process = self._start()
        return answers

    def _ask_until_hang(self, requests: list[Request]) -> list[Answer]:
        """Stream the requests (from a thread: pipes are finite); stop at a HANG answer."""
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None

        def write() -> None:
            try:
                stdin.writelines(request.line() for request in requests)
                stdin.flush()
            except BrokenPipeError:
                pass  # the helper exited after a HANG; the rest is sent again

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        answers = []
        for _ in requests:
            answers.append(Answer.from_line(stdout.readline()))
            if answers[-1].kind == "HANG":
                break
        writer.join()
        return answers

    def _stop(self) -> None:
        try:
            if self._process.stdin:
                self._process.stdin.close()
        except BrokenPipeError:
            pass
        self._process.wait(timeout=30)

    def close(self) -> None:
        self._stop()
