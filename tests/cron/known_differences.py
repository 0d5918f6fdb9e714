"""Where this engine knowingly differs from Quartz 2.3.2 (each is listed in ``docs/cron.rst``).

All of them are text Quartz accepts but misreads or cannot evaluate; the engine
refuses it with a sentence instead. ``explain`` names the documented difference
behind a refusal, so the mutation test can tell a documented difference from a bug.
"""

from __future__ import annotations

import re

from django_scheduler_api.cron import CronError

# (label in docs/cron.rst, pattern of the engine's message)
DOCUMENTED = (
    ("extra fields", r"^expected 6 or 7 fields .*got ([89]|\d\d+)$"),
    ("years outside 1970-2099", r"is out of range 1970-2099$"),
    ("empty list items", r"^empty item in the list"),
    ("steps after names", r"Quartz ignores a step after a name"),
    ("steps Quartz misreads", r"^'/' must be followed by a whole number"),
    ("characters Quartz ignores", r"is not valid here|is not a (month|day) name|must stand alone"),
    ("L, W and # in lists", r"cannot be combined with other days$"),
    ("values Quartz does not check", r"is out of range (0|1)-"),
)


def explain(error: CronError) -> str | None:
    """The documented difference that makes the engine refuse what Quartz accepts, if any."""
    for label, pattern in DOCUMENTED:
        if re.search(pattern, error.message):
            return label
    return None
