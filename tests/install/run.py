"""The install test: the distributions, installed as a user would, in a project made as README.rst says.

    python tests/install/run.py            # needs `build` and `twine`; `nox -s install` brings them

1. Builds the sdist and the wheel (the wheel from the sdist) and checks both with ``twine check --strict``.
2. For each scenario, a fresh virtualenv gets the wheel (without extras, then with ``[redis]``), and
   ``django-admin startproject`` + ``startapp`` make a project that receives README.rst's code blocks
   (``install-*`` and ``quickstart-*``, read from README.rst itself, so README and test cannot drift).
3. ``check`` must be silent about the app, ``migrate`` runs, then ``runserver``, ``run_scheduler`` and
   ``qcluster`` start; the README's quick-start curl creates a job, and one of its executions must
   succeed with the handler's result.
4. Without the ``redis`` extra, a Redis ``Q_CLUSTER`` must fail ``check`` with ``E003``.

PostgreSQL is not needed: the project uses SQLite as ``startproject`` makes it. The Redis scenario
needs Redis on 127.0.0.1:6379 and uses a queue name of its own, so it never takes others' tasks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.rst"
# Liveness bound: the quick start's job fires every ten seconds.
EXECUTION_TIMEOUT = 90


def readme_blocks(text: str) -> dict[str, str]:
    """The README's code blocks that carry a ``:name:``, by name, dedented."""
    blocks: dict[str, str] = {}
    pattern = re.compile(r"^\.\. code-block:: \w+\n((?:   :\w+:.*\n)*)\n((?:(?: {4}.*)?\n)+)", re.MULTILINE)
    for match in pattern.finditer(text):
        name = re.search(r":name: (\S+)", match.group(1))
        if name:
            lines = match.group(2).rstrip("\n").splitlines()
            blocks[name.group(1)] = "\n".join(line[4:] for line in lines) + "\n"
    return blocks


def console_commands(block: str) -> list[str]:
    """The commands of a ``console`` block: lines after ``$ ``, with their ``\\`` continuations."""
    commands, current = [], None
    for line in block.splitlines():
        if line.startswith("$ "):
            current = line[2:]
        elif current is not None:
            current += "\n" + line
        else:
            continue
        if not current.endswith("\\"):
            commands.append(current)
            current = None
    return commands


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None, check=True):
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise AssertionError(f"exit status {result.returncode}:\n{output}")
    return result.returncode, output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(work: Path) -> tuple[Path, Path]:
    dist = work / "dist"
    run(sys.executable, "-m", "build", "--outdir", dist, ROOT)
    (sdist,), (wheel,) = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    run(sys.executable, "-m", "twine", "check", "--strict", sdist, wheel)
    _, listing = run(sys.executable, "-m", "zipfile", "-l", wheel)
    for needed in ("LICENSE", "migrations/0001_initial.py", "templates/", "static/"):
        assert needed in listing, f"the wheel lacks {needed}"
    return sdist, wheel


class Project:
    """A fresh virtualenv with the wheel, and a project made by ``startproject`` in it."""

    def __init__(self, work: Path, name: str, requirement: str):
        self.dir = work / name
        self.venv = work / f"venv-{name}"
        run(sys.executable, "-m", "venv", self.venv)
        self.python = self.venv / "bin" / "python"
        run(self.python, "-m", "pip", "install", "--quiet", requirement)
        self.dir.mkdir()
        run(self.venv / "bin" / "django-admin", "startproject", "mysite", self.dir)
        # Nothing of the repository's environment: the package must come from the wheel.
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV"):
            self.env.pop(name, None)
        self.processes: list[subprocess.Popen] = []
        self.log_files: list = []

    def manage(self, *args: str, check: bool = True) -> tuple[int, str]:
        return run(self.python, "manage.py", *args, cwd=self.dir, env=self.env, check=check)

    def append(self, relative: str, code: str) -> None:
        path = self.dir / relative
        path.write_text(path.read_text() + "\n" + code)

    def start(self, *args: str) -> None:
        log = open(self.dir / f"{args[0]}.log", "w")
        self.log_files.append(log)
        self.processes.append(
            subprocess.Popen(
                [str(self.python), "manage.py", *args],
                cwd=self.dir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for log in self.log_files:
            log.close()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.dir.glob("*.log")))


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout}s")


def set_up(project: Project, blocks: dict[str, str], *, redis: bool) -> None:
    """README.rst's Installation and Quick start, applied to a fresh project."""
    project.append("mysite/settings.py", blocks["install-settings"])
    project.append("mysite/settings.py", blocks["install-sqlite"])
    if redis:
        project.append("mysite/settings.py", blocks["install-redis"])
        # A queue of this run's own, so that no other Redis user's worker takes its tasks.
        project.append("mysite/settings.py", f'Q_CLUSTER["name"] = "install-test-{os.getpid()}"\n')
    project.append("mysite/urls.py", blocks["install-urls"])
    project.manage("startapp", "reports")
    project.append("mysite/settings.py", blocks["quickstart-settings"])
    handler = blocks["quickstart-handler"]
    path = re.match(r"# (\S+\.py)\n", handler).group(1)
    (project.dir / path).write_text(handler)


def scenario(work: Path, wheel: Path, blocks: dict[str, str], *, redis: bool) -> None:
    name = "redis" if redis else "orm"
    print(f"=== scenario: {name} broker, wheel {'with [redis]' if redis else 'without extras'}", flush=True)
    project = Project(work, f"project-{name}", f"{wheel}[redis]" if redis else str(wheel))
    set_up(project, blocks, redis=redis)
    _, output = project.manage("check")
    assert "django_scheduler_api." not in output, output
    if not redis:
        # The broker check, against a Redis Q_CLUSTER on an install that lacks the redis library.
        (project.dir / "mysite" / "settings_redis.py").write_text(
            "from mysite.settings import *  # noqa: F403\n\n" + blocks["install-redis"]
        )
        status, output = project.manage("check", "--settings", "mysite.settings_redis", check=False)
        assert status != 0 and "django_scheduler_api.E003" in output, output
    project.manage("migrate", "--noinput")
    port = free_port()
    try:
        project.start("runserver", "--noreload", f"127.0.0.1:{port}")
        project.start("run_scheduler")
        project.start("qcluster")
        base = f"http://127.0.0.1:{port}/scheduler"
        wait_for(lambda: get_json(f"{base}/")["is_started"], 60, "the scheduler reports itself started")
        (create,) = console_commands(blocks["quickstart-curl"])
        command = create.replace("127.0.0.1:8000", f"127.0.0.1:{port}") + " --silent --show-error --fail"
        _, answer = run("sh", "-c", command)
        job = json.loads(answer)
        assert job["id"] == "reports.hello" and job["next_fire_time"], answer

        def succeeded():
            executions = get_json(f"{base}/executions?job=reports.hello")
            failed = [e for e in executions if e["status"] in ("failed", "lost")]
            assert not failed, failed
            return [e for e in executions if e["status"] == "succeeded"]

        (execution, *_) = wait_for(succeeded, EXECUTION_TIMEOUT, "an execution of reports.hello succeeds")
        assert execution["result"] == {"greeting": "Hello, Ada!"}, execution
        print(f"--- {name}: execution {execution['id']} succeeded: {execution['result']}", flush=True)
    except BaseException:
        project.stop()
        print(project.logs())
        raise
    project.stop()


def main() -> int:
    blocks = readme_blocks(README.read_text())
    missing = {"install-settings", "install-sqlite", "install-urls", "install-redis"} | {
        "quickstart-settings",
        "quickstart-handler",
        "quickstart-curl",
    }
    missing -= set(blocks)
    assert not missing, f"README.rst lacks the code blocks {sorted(missing)}"
    assert shutil.which("curl"), "needs curl (apt-get install curl)"
    work = Path(tempfile.mkdtemp(prefix="scheduler-install-"))
    try:
        _, wheel = build(work)
        results = {}
        for redis in (False, True):
            scenario(work, wheel, blocks, redis=redis)
            results["redis" if redis else "orm"] = "passed"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"scenarios: {', '.join(results)}")
    print(f"install: {len(results)} passed, 0 failed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
