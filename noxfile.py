"""The support matrix: every (Python, Django, database) cell the package claims, one command each.

    nox -l                                                       # list the sessions
    nox -s "tests(python='3.13', django='6.1')"                    # the whole suite on SQLite
    nox -s "tests(python='3.13', django='6.1')" -- --db=postgres,mariadb tests/api tests/engine
    nox -s "tests(python='3.12', django='6.0')" -- --db=sqlite,postgres,mariadb --fast
    nox -s "tests(python='3.13', django='5.2')" -- --db=mariadb --smoke
    nox -s lowest docs install

A ``tests`` session is one (Python, Django) pair; ``--db=`` names the databases of its cells (default
``sqlite``), one pytest run each in the same virtualenv; ``--fast`` and ``--smoke`` run a subset;
the other arguments go to pytest. On PostgreSQL and MariaDB the tests that never use the suite's
database (marker ``any_db``) are left out: the SQLite run of the same pair covers them.

What CI runs (.ci/run), and why each cell exists:

- (3.11, 5.2), the project's .venv, and (3.13, 6.1): the whole suite on SQLite, PostgreSQL and
  MariaDB. The two ends of the supported range, where a new Python or Django breaks something first
  and where the oldest supported pair still has to work.
- (3.12, 6.0): the fast subset (``FAST``) on the three databases: the only cell with Django 6.0,
  and Python 3.12's. It catches what differs between releases (the admin's templates, DRF, the ORM,
  migrations) without paying for the process tests again, which depend on neither.
- (3.12, 5.2), (3.12, 6.1), (3.13, 5.2), (3.13, 6.0): the smoke subset (``SMOKE``), each on one
  database in turn: every Python, Django and database these pairs hold is covered above; they show
  that the pair installs and its core works.
- ``lowest``: the fast subset with the lowest versions setup.cfg allows, so its lower bounds are true.
- ``docs`` and ``install``: the documentation site and the package as a user installs it.

Interpreters come from pyenv (``$(pyenv root)/versions/3.1x.y``) or the PATH; nox never downloads one.
setup.cfg's classifiers and ``install_requires`` state what these sessions test; ``lowest`` reads the
lower bounds from setup.cfg itself, so they cannot claim more than is tested.
"""

from __future__ import annotations

import configparser
import os
import re
import subprocess
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent

PYTHONS = ("3.11", "3.12", "3.13")
DJANGOS = {"5.2": "Django>=5.2,<6.0", "6.0": "Django>=6.0,<6.1", "6.1": "Django>=6.1,<6.2"}
DATABASES = ("sqlite", "postgres", "mariadb")
# The Python versions each Django release supports (Django 6 dropped 3.10 and 3.11).
DJANGO_PYTHONS = {"5.2": PYTHONS, "6.0": ("3.12", "3.13"), "6.1": ("3.12", "3.13")}
# The database drivers each database needs, as extras of this package.
DATABASE_EXTRAS = {"sqlite": [], "postgres": ["postgres"], "mariadb": ["mariadb"]}

nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = True
# uv installs a session in seconds; without it, the standard library's venv and pip.
nox.options.default_venv_backend = "uv|venv"
# Never let uv fetch an interpreter of its own either.
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
nox.options.sessions = ["tests", "lowest", "docs", "install"]


def _pyenv_interpreters_on_path() -> None:
    """Put pyenv's installed interpreters (``python3.12`` ...) on the PATH, where nox looks for them.

    pyenv's shims only answer for the selected version; the interpreters themselves are under
    ``$(pyenv root)/versions``. Nothing is installed here: a missing version is an error.
    """
    root = os.environ.get("PYENV_ROOT")
    if not root:
        try:
            answer = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True)
            root = answer.stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return
    versions = Path(root) / "versions"
    found = sorted(versions.glob("3.1[1-3].*"), reverse=True) if versions.is_dir() else []
    dirs = [str(v / "bin") for v in found if re.fullmatch(r"3\.\d+\.\d+", v.name)]
    os.environ["PATH"] = os.pathsep.join([*dirs, os.environ.get("PATH", "")])


_pyenv_interpreters_on_path()


def _pairs() -> list[nox.param]:
    return [
        nox.param(python, django, id=f"python='{python}', django='{django}'")
        for python in PYTHONS
        for django in DJANGOS
        if python in DJANGO_PYTHONS[django]
    ]


# The fast subset: the in-process tests (no qcluster, no scheduler process, no browser) of the parts
# that lean on Django, DRF and the database: the API (less the schemathesis run, whose schema the
# full cells check), the admin, the CLI and the engine.
FAST = ["tests/api", "tests/admin", "tests/cli", "tests/engine", "--ignore=tests/api/test_schema.py",
        "-m", "not integration and not browser"]  # fmt: skip
# The smoke subset: a job made, listed, paused and fired through the API, the admin's job pages,
# one scheduler pass and its claims, the layers: that the pair installs and its core works.
SMOKE = ["tests/api/test_jobs.py", "tests/api/test_actions.py", "tests/admin/test_job_admin.py",
         "tests/engine/test_loop.py", "tests/engine/test_store.py", "tests/test_layers.py"]  # fmt: skip
# pytest-xdist's workers of each run (the suite mostly waits on processes: more than the cores).
WORKERS = ["-n", os.environ.get("PYTEST_WORKERS", "4"), "--dist", "worksteal"]


def split_databases(posargs: list[str]) -> tuple[list[str], list[str]]:
    """The databases named by ``--db=a,b`` (default: SQLite) and the arguments left for pytest
    (``--fast`` stands for ``FAST``, ``--smoke`` for ``SMOKE``)."""
    databases, rest = ["sqlite"], []
    for arg in posargs:
        if arg.startswith("--db="):
            databases = [db for db in arg.removeprefix("--db=").split(",") if db]
        elif arg == "--fast":
            rest.extend(FAST)
        elif arg == "--smoke":
            rest.extend(SMOKE)
        else:
            rest.append(arg)
    unknown = sorted(set(databases) - set(DATABASES))
    if unknown or not databases:
        raise ValueError(f"--db takes a comma-separated list of {', '.join(DATABASES)}; got {unknown}")
    return databases, rest


@nox.session
@nox.parametrize(("python", "django"), _pairs())
def tests(session: nox.Session, django: str) -> None:
    """The test suite (or the pytest arguments given after ``--``) on one (Python, Django) pair."""
    databases, args = split_databases(session.posargs)
    extras = ["test", "redis", *(extra for db in databases for extra in DATABASE_EXTRAS[db])]
    session.install("-e", f".[{','.join(extras)}]", DJANGOS[django])
    for db in databases:
        _pytest(session, db, args)


@nox.session(python=PYTHONS[0])
def lowest(session: nox.Session) -> None:
    """The suite with the lowest version of each requirement that setup.cfg's lower bounds allow."""
    pins = lowest_pins()
    session.install(*pins)
    session.install("-e", ".[test,redis]", *pins)
    # Show what was installed (uv's virtualenvs have no pip to ask).
    names = [pin.split("==")[0] for pin in pins]
    show = "import sys, importlib.metadata as m; print(*(f'{n}=={m.version(n)}' for n in sys.argv[1:]))"
    session.run("python", "-c", show, *names, silent=False)
    _pytest(session, "sqlite", split_databases(session.posargs)[1])


def lowest_pins() -> list[str]:
    """``name==lower`` for each ``install_requires`` entry with a ``>=`` bound."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    pins = []
    for line in config["options"]["install_requires"].splitlines():
        match = re.match(r"^\s*([A-Za-z0-9._\[\]-]+)\s*>=\s*([0-9.]+)", line)
        if match:
            pins.append(f"{match.group(1)}=={match.group(2)}")
    return pins


def pytest_args(db: str, args: list[str]) -> list[str]:
    """pytest's arguments for one database: on PostgreSQL and MariaDB without the ``any_db`` tests
    (combined with a ``-m`` given, if any)."""
    if db == "sqlite":
        return args
    args = list(args)
    if "-m" in args:
        at = args.index("-m") + 1
        args[at] = f"({args[at]}) and not any_db"
        return args
    return [*args, "-m", "not any_db"]


def _pytest(session: nox.Session, db: str, args: list[str]) -> None:
    # pytest's exit code 5 (no test collected) fails the session, as any code but 0 does.
    session.log(f"database: {db}")
    # A subset as small as the smoke one spends more on each worker's test database than it saves.
    workers = ["-n", "2"] if args[: len(SMOKE)] == SMOKE else WORKERS
    session.run(
        "python", "-m", "pytest", "-q", *workers, *pytest_args(db, args), env={"SCHEDULER_TEST_DB": db}
    )


@nox.session(python=PYTHONS[1])
def docs(session: nox.Session) -> None:
    """The documentation site, every warning an error, as Read the Docs builds it."""
    session.install("-e", ".[docs]")
    session.run("sphinx-build", "-W", "-n", "-q", "-b", "html", "docs", str(ROOT / "docs/_build/html"))


@nox.session(python=PYTHONS[0])
def install(session: nox.Session) -> None:
    """Build, check and install the distributions in fresh projects, following README.rst."""
    session.install("build", "twine")
    session.run("python", "tests/install/run.py", *session.posargs)
