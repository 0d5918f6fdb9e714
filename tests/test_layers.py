"""The package's layers import one way (docs/engine.rst, *Modules*), and nothing imports in a cycle.

Layers, top to bottom; a module may import its own layer and those below, never one above:

1. front ends: the REST API, the admin, the CLI and management commands, URLs, the middleware, the
   app config and its system checks;
2. services: what the front ends ask for (``services``, the rules of a job's fields in ``validation``,
   jobs declared in code in ``declared``, the figures of the metrics and the dashboard in
   ``monitoring``);
3. the engine: ``engine/*`` and the pure fire-time arithmetic of ``planning``;
4. the ground: ``cron``, ``models``, ``conf``, ``registry``, ``context``, ``jsonvalues``, ``signals``,
   the migrations.

Imports are read with ``ast`` from the source, all of them: at module level, inside functions (a
lazy import cannot hide an arrow) and under ``TYPE_CHECKING``. Each module is also imported alone in
a fresh interpreter, which an import cycle (or a module that only works after another) would fail.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGE = "django_scheduler_api"

# (layer, module name prefixes); a module belongs to the first layer with a prefix matching it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("front end", ("api", "admin", "cli", "management", "urls", "middleware", "apps", "checks")),
    ("services", ("services", "validation", "declared", "monitoring", "calendars", "backfill")),
    ("engine", ("engine", "planning", "retries", "execution", "exclusions")),
    ("ground", ("cron", "models", "conf", "registry", "context", "jsonvalues", "signals", "migrations", "")),
]


@dataclass(frozen=True)
class Arrow:
    """``source`` imports ``target`` (module names) at ``line``."""

    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line})"


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (a directory under ``root``), by dotted name."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def arrows(root: Path, package: str) -> Iterator[Arrow]:
    """Every import of a module of ``package`` by another, wherever in the source it stands."""
    known = modules(root, package)
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for target in _imported(node, name, is_package, known):
                if target != name and target.split(".")[0] == package:
                    yield Arrow(name, target, node.lineno)


def _imported(node: ast.AST, module: str, is_package: bool, known: dict[str, Path]) -> list[str]:
    """The modules an import statement names (``from a import b`` is ``a.b`` if that is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]


def layer_of(module: str, package: str, layers: list[tuple[str, tuple[str, ...]]]) -> int:
    """The index of the layer ``module`` belongs to (0 is the top)."""
    relative = module.removeprefix(package).lstrip(".")
    for index, (_, prefixes) in enumerate(layers):
        for prefix in prefixes:
            if relative == prefix or (prefix and relative.startswith(f"{prefix}.")):
                return index
    raise LookupError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py")


def upward(root: Path, package: str, layers: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """The imports that run from a lower layer up to a higher one, described."""
    found = []
    for arrow in arrows(root, package):
        source, target = layer_of(arrow.source, package, layers), layer_of(arrow.target, package, layers)
        if target < source:
            found.append(f"{arrow} imports {layers[target][0]} from {layers[source][0]}")
    return found


def cycles(root: Path, package: str) -> list[list[str]]:
    """Groups of modules that import one another in a loop (strongly connected components > 1)."""
    graph: dict[str, set[str]] = {name: set() for name in modules(root, package)}
    for arrow in arrows(root, package):
        graph[arrow.source].add(arrow.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


# -- the package --------------------------------------------------------------------------------------


def test_every_module_is_in_a_layer():
    for name in modules(ROOT, PACKAGE):
        layer_of(name, PACKAGE, LAYERS)


def test_no_module_imports_a_higher_layer():
    assert upward(ROOT, PACKAGE, LAYERS) == []


def test_no_modules_import_each_other_in_a_loop():
    assert cycles(ROOT, PACKAGE) == []


# Imports each module named on stdin in a child forked from one interpreter that has only set
# Django up; prints "name<TAB>error" for each module that does not import. A fork costs
# milliseconds where a fresh interpreter costs a second of Django's start-up per module.
IMPORT_ALONE = """
import os, sys, traceback
import django
django.setup()
for name in sys.stdin.read().split():
    pid = os.fork()
    if pid == 0:
        try:
            __import__(name)
        except BaseException:
            print(name, traceback.format_exc().strip().splitlines()[-1], sep="\\t", flush=True)
            os._exit(1)
        os._exit(0)
    os.waitpid(pid, 0)
"""


def test_every_module_imports_alone_in_a_fresh_interpreter():
    """Each module in a fresh process, so that no module is imported with another's help: a child
    forked from an interpreter in which only ``django.setup()`` ran (what every real entry point
    runs first), as a fresh interpreter would be at that point."""
    names = [name for name in modules(ROOT, PACKAGE) if ".migrations." not in name]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALONE], input=" ".join(names), cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_the_import_check_reports_a_module_that_fails_alone(tmp_path):
    """The check above can fail: a module that needs another imported first is reported."""
    (tmp_path / "needs_first.py").write_text("import sys\nsys.modules['first_of_all'].X\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALONE], input="needs_first json", cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.stdout.startswith("needs_first\tKeyError: 'first_of_all'")
    assert "json" not in done.stdout


# -- the checker itself, on a package made for it -----------------------------------------------------

FAKE_LAYERS = [("top", ("front",)), ("middle", ("service",)), ("bottom", ("base", ""))]


@pytest.fixture
def fake(tmp_path: Path):
    """A tiny package whose files the test writes: ``fake(name, source)``."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")

    def write(name: str, source: str) -> None:
        path = tmp_path.joinpath("pkg", *name.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)

    write("front", "from pkg import service\n")
    write("service", "import pkg.base\n")
    write("base", "X = 1\n")
    return write


def test_the_checker_accepts_imports_that_run_down(fake, tmp_path):
    assert upward(tmp_path, "pkg", FAKE_LAYERS) == []
    assert cycles(tmp_path, "pkg") == []


@pytest.mark.parametrize(
    "source",
    [
        "from pkg.front import thing\n",
        "import pkg.front\n",
        "from pkg import front\n",
        "def later():\n    from pkg import front\n",  # a lazy import is still an arrow
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .front import x\n",
    ],
)
def test_the_checker_finds_an_upward_import_however_it_is_written(fake, tmp_path, source):
    fake("base", source)
    (found,) = upward(tmp_path, "pkg", FAKE_LAYERS)
    assert found.startswith("pkg.base -> pkg.front") and "imports top from bottom" in found


def test_the_checker_finds_a_loop_within_a_layer(fake, tmp_path):
    fake("base", "def later():\n    from pkg import other\n")
    fake("other", "from pkg.base import X\n")
    assert cycles(tmp_path, "pkg") == [["pkg.base", "pkg.other"]]


def test_the_checker_refuses_a_module_in_no_layer(tmp_path):
    with pytest.raises(LookupError, match=r"pkg\.stray is in no layer"):
        layer_of("pkg.stray", "pkg", FAKE_LAYERS[:2])


def test_relative_imports_are_resolved_from_the_package(fake, tmp_path):
    fake("sub.__init__", "from .leaf import y\n")
    fake("sub.leaf", "from ..front import z\n")
    found = {str(a).split(" (")[0] for a in arrows(tmp_path, "pkg")}
    assert {"pkg.sub -> pkg.sub.leaf", "pkg.sub.leaf -> pkg.front"} <= found
