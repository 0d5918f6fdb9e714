"""The score of a mutmut run per module (``make mutate``): killed / mutants the tests reached, and the
same with the equivalent mutants of tests/mutation_equivalents.txt set aside.

Reads ``mutmut results --all true`` on stdin. A survivor that the file does not list is a gap in the
tests (listed by name); a listed mutant that is no longer a survivor (killed, or renumbered after an
edit of the module) is reported as stale. Exits 1 when a module given with ``--min`` scores lower.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

EQUIVALENTS = Path(__file__).with_name("mutation_equivalents.txt")
# django_scheduler_api.planning.x_jitter_delay__mutmut_3 / ...planning.xǁScheduleǁof__mutmut_7
NAME = re.compile(r"^(?P<module>[\w.]+?)\.x[_ǁ].*__mutmut_\d+$")
KILLED = {"killed", "timeout"}  # a mutant that never ends is caught too
UNREACHED = {"no tests", "not checked", "skipped"}


def equivalents() -> dict[str, str]:
    """Mutant name -> why it is equivalent, from lines ``name  reason`` (``#`` comments)."""
    listed = {}
    for line in EQUIVALENTS.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            listed[name] = reason.strip()
    return listed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("modules", nargs="+", help="dotted module names, e.g. django_scheduler_api.planning")
    parser.add_argument("--min", type=float, default=0.0, help="lowest acceptable score without equivalents")
    args = parser.parse_args()
    status: dict[str, dict[str, str]] = defaultdict(dict)
    for line in sys.stdin:
        name, _, state = line.strip().rpartition(": ")
        match = NAME.match(name)
        if match and match["module"] in args.modules:
            status[match["module"]][name] = state
    listed = equivalents()
    failed = False
    for module in args.modules:
        counts = Counter(status[module].values())
        reached = sum(n for state, n in counts.items() if state not in UNREACHED)
        killed = sum(counts[state] for state in KILLED)
        survivors = sorted(name for name, state in status[module].items() if state not in KILLED | UNREACHED)
        equivalent = [name for name in survivors if name in listed]
        gaps = [name for name in survivors if name not in listed]
        mine = [name for name in listed if name.startswith(module + ".x")]
        stale = sorted(name for name in mine if status[module].get(name) != "survived")
        raw = 100 * killed / reached if reached else 0.0
        real = 100 * killed / (reached - len(equivalent)) if reached > len(equivalent) else 0.0
        unreached = sum(counts[state] for state in UNREACHED)
        print(
            f"{module}: {killed}/{reached} killed = {raw:.1f} %; "
            f"{len(equivalent)} equivalent set aside: {real:.1f} %; "
            f"{len(gaps)} other survivors; {unreached} not reached by the selected tests"
        )
        for name in gaps:
            print(f"    survived: {name}")
        for name in stale:
            print(f"    stale equivalent (now {status[module].get(name, 'absent')}): {name}")
        failed |= real < args.min
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
