"""The schema as a client generator reads it: a generated client runs the whole API and type-checks.

The client is generated with openapi-python-client from the schema the live server serves, into a
temporary directory (nothing generated is kept); ``client_workflow.run`` drives every operation
through it against that server and a real django-q2 worker, and mypy checks the workflow against
the generated package, so an operation that wants credentials (``AuthenticatedClient``) or a model
that does not fit an answer fails here.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.integration

PACKAGE = "scheduler_client"
WORKFLOW = Path(__file__).with_name("client_workflow.py")
GENERATOR_CONFIG = f"package_name_override: {PACKAGE}\nproject_name_override: {PACKAGE}\npost_hooks: []\n"


def generate_client(schema_url: str, into: Path) -> str:
    """openapi-python-client's package for the schema at ``schema_url``; its warnings as text."""
    config = into / "config.yaml"
    config.write_text(GENERATOR_CONFIG)
    generated = subprocess.run(
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate",
            "--url",
            schema_url,
            "--output-path",
            str(into / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    return generated.stdout + generated.stderr


def type_check(workflow: Path, client_dir: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """mypy --strict on the workflow, with the generated package's types (its own code unchecked)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--cache-dir",
            str(cache),
            str(workflow),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"MYPYPATH": str(client_dir), "PATH": str(Path(sys.executable).parent)},
        check=False,
    )


@pytest.fixture
def generated_client(live_server, tmp_path, monkeypatch):
    """The generated package, importable for the duration of the test."""
    warnings = generate_client(f"{live_server.url}/scheduler/schema", tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path, warnings
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]
    sys.modules.pop("tests.api.client_workflow", None)


def test_a_generated_client_runs_the_whole_api(generated_client, live_server, qcluster):
    client_dir, warnings = generated_client
    assert "Warning" not in warnings, warnings
    # One model per shared shape: no per-operation error models (JobsCreateResponse403, ...).
    models = sorted(path.stem for path in (client_dir / PACKAGE / "models").glob("*.py"))
    assert "error" in models and "field_errors" in models
    assert not [name for name in models if "_response_" in name], models

    workflow = importlib.import_module("tests.api.client_workflow")
    calls = workflow.run(live_server.url, "tests.echo")

    # Every operation was called, the documented errors among them; none raised UnexpectedStatus.
    # 26 answers of 200, and one more for each poll that finds the triggered execution still running
    # (none when the worker is done before the first poll).
    assert calls["200"] >= 26 and calls["400"] == 2 and calls["404"] == 3 and len(calls) == 3, calls
    print(f"generated client: {sum(calls.values())} calls, by status {dict(sorted(calls.items()))}")


def test_the_workflow_type_checks_with_a_plain_client(generated_client, tmp_path):
    client_dir, _ = generated_client
    checked = type_check(WORKFLOW, client_dir, tmp_path / "mypy-cache")
    assert checked.returncode == 0, checked.stdout + checked.stderr
