"""Shared by the engine benchmarks: the machine, percentiles, and sites (databases + brokers).

Run from the repository root, e.g. ``.venv/bin/python bench/fire_lag.py``; the sites are the same
helpers the engine's process tests use (a fresh PostgreSQL database and a Redis database number),
with ``bench.settings`` so the benchmark handlers are installed.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
os.environ.setdefault("SCHEDULER_TEST_DB", "postgres")

import django  # noqa: E402

django.setup()


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def _first_line(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def machine() -> str:
    """One paragraph: CPUs, CPU model, memory, and the versions the figures depend on."""
    import psutil

    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"nproc {os.cpu_count()}, {model}, {memory:.1f} GiB RAM; Python {platform.python_version()}, "
        f"{_first_line('psql', '--version')}, "
        f"{_first_line('redis-server', '--version').split(' sha=')[0]}"
    )
