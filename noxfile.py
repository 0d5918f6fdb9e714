"""The support matrix: every (Python, Django, database) cell the package claims, one command each.

    nox -l                                                     # list the sessions
    nox -s "tests(python='3.13', django='6.1', db='postgres')"  # one cell, the whole suite
    nox -s "tests(python='3.12', django='6.0', db='sqlite')" -- tests/api tests/engine
    nox -s lowest docs install

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
nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lowest", "docs", "install"]


def _pyenv_interpreters_on_path() -> None:
    """Put pyenv's installed interpreters (``python3.12`` ...) on the PATH, where nox looks for them.

    pyenv's shims only answer for the selected version; the interpreters themselves are under
    ``$(pyenv root)/versions``. Nothing is installed here: a missing version is an error.
    """
    root = os.environ.get("PYENV_ROOT")
    if not root:
        try:
            root = subprocess.run(
                ["pyenv", "root"], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return
    versions = Path(root) / "versions"
    found = sorted(versions.glob("3.1[1-3].*"), reverse=True) if versions.is_dir() else []
    dirs = [str(v / "bin") for v in found if re.fullmatch(r"3\.\d+\.\d+", v.name)]
    os.environ["PATH"] = os.pathsep.join([*dirs, os.environ.get("PATH", "")])


_pyenv_interpreters_on_path()


def _cells() -> list[nox.param]:
    return [
        nox.param(python, django, db, id=f"python='{python}', django='{django}', db='{db}'")
        for python in PYTHONS
        for django in DJANGOS
        if python in DJANGO_PYTHONS[django]
        for db in DATABASES
    ]


def _test_env(db: str) -> dict[str, str]:
    return {"SCHEDULER_TEST_DB": db, "PYTHONDONTWRITEBYTECODE": "1"}


@nox.session
@nox.parametrize(("python", "django", "db"), _cells())
def tests(session: nox.Session, django: str, db: str) -> None:
    """The test suite (or the paths given after ``--``) on one cell of the matrix."""
    extras = ",".join(["test", "redis", *DATABASE_EXTRAS[db]])
    session.install("-e", f".[{extras}]", DJANGOS[django])
    _pytest(session, db)


@nox.session(python=PYTHONS[0])
def lowest(session: nox.Session) -> None:
    """The suite with the lowest version of each requirement that setup.cfg's lower bounds allow."""
    pins = lowest_pins()
    session.install(*pins)
    session.install("-e", ".[test,redis]", *pins)
    session.run("python", "-m", "pip", "freeze", silent=False)
    _pytest(session, "sqlite")


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


def _pytest(session: nox.Session, db: str) -> None:
    args = session.posargs or []
    # pytest's exit code 5 (no test collected) is a failure, as everywhere in CI.
    session.run("python", "-m", "pytest", "-q", *args, env=_test_env(db))


@nox.session(python=PYTHONS[1])
def docs(session: nox.Session) -> None:
    """The documentation site, every warning an error, as Read the Docs builds it."""
    session.install("-e", ".[docs]")
    session.run(
        "sphinx-build", "-W", "-n", "-q", "-b", "html", "docs", str(ROOT / "docs" / "_build" / "html")
    )


@nox.session(python=PYTHONS[0])
def install(session: nox.Session) -> None:
    """Build, check and install the distributions in fresh projects, following README.rst."""
    session.install("build", "twine")
    session.run("python", "tests/install/run.py", *session.posargs)
