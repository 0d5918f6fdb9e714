"""What a handler receives: one fire of one job, described (docs/engine.rst, "Handlers")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class JobContext:
    """The context passed to a handler; all times are aware UTC datetimes."""

    job_id: str
    execution_id: str
    trigger: str
    data: dict[str, Any] = field(default_factory=dict)
    fire_time: datetime | None = None
    scheduled_fire_time: datetime | None = None
    previous_fire_time: datetime | None = None
    next_fire_time: datetime | None = None
    # The number of this attempt of the fire (1: the first; more for a ``retry``, docs/scheduling.rst).
    attempt: int = 1
