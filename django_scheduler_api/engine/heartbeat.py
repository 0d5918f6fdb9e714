"""Scheduler nodes: each process keeps a ``SchedulerNode`` row fresh so the API can tell who is alive.

The status endpoint counts a node as alive while its ``last_seen`` is within ``NODE_TIMEOUT``; a node
that stops cleanly deletes its row at once, one that dies simply ages out.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from django.utils import timezone

from django_scheduler_api.models import SchedulerNode

# Rows of nodes silent for this many node timeouts are deleted: long enough to read in the admin
# what died recently, short enough that the table does not grow with every restart.
FORGET_AFTER_TIMEOUTS = 10


def default_node_name() -> str:
    """``host:pid``: unique among running processes, readable in the status."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """The node row of one scheduler process."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started_at = timezone.now()

    def beat(self, now: datetime) -> None:
        """Mark the node alive at ``now`` (creating its row on the first beat or after a purge)."""
        updated = SchedulerNode.objects.filter(pk=self.name).update(last_seen=now)
        if not updated:
            SchedulerNode.objects.update_or_create(
                name=self.name,
                defaults={
                    "hostname": socket.gethostname(),
                    "pid": os.getpid(),
                    "started_at": self.started_at,
                    "last_seen": now,
                },
            )

    def stop(self) -> None:
        """Remove the node row: this scheduler is gone now, not in ``NODE_TIMEOUT`` seconds."""
        SchedulerNode.objects.filter(pk=self.name).delete()


def forget_dead_nodes(now: datetime, node_timeout: timedelta) -> int:
    """Delete rows of nodes silent for much longer than the node timeout."""
    cutoff = now - node_timeout * FORGET_AFTER_TIMEOUTS
    return SchedulerNode.objects.filter(last_seen__lt=cutoff).delete()[0]
