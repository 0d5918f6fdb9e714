"""``manage.py run_scheduler``: declared jobs loaded at start, one pass with --once, signals wired."""

from __future__ import annotations

import signal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_scheduler_api.models import Job, SchedulerNode
from tests.engine.helpers import executions
from tests.factories import make_due_job
from tests.support import run_tasks

pytestmark = pytest.mark.django_db


def test_once_loads_declared_jobs_fires_what_is_due_and_leaves_no_node(settings, monkeypatch):
    installed, real_signal = {}, signal.signal

    def record(sig, handler):
        """Keep pytest's own SIGINT/SIGTERM handlers; let others (django-q2's SIGALRM) through."""
        if sig in (signal.SIGTERM, signal.SIGINT):
            installed[sig] = handler
            return None
        return real_signal(sig, handler)

    monkeypatch.setattr(signal, "signal", record)
    settings.SCHEDULER_API = {
        **settings.SCHEDULER_API,
        "JOBS": [
            {"id": "cmd.hourly", "handler": "tests.echo", "cron_expression": "0 0 * * * ?"},
            {"id": "cmd.bad", "handler": "nobody"},
        ],
    }
    # Due now, next fire a year away: one pass fires it once however long the pass takes.
    make_due_job(due=timezone.now(), cron="0 0 0 1 1 ?")
    out, err = StringIO(), StringIO()
    call_command("run_scheduler", "--once", "--node-name", "cmd:1", stdout=out, stderr=err)
    assert "Scheduler cmd:1 started (1 jobs declared in code)." in out.getvalue()
    assert "Scheduler cmd:1 stopped." in out.getvalue()
    assert "Declared job cmd.bad not loaded: handler: Unknown handler 'nobody'" in err.getvalue()
    assert Job.objects.get(pk="cmd.hourly").source == Job.Source.CODE
    assert run_tasks() == 1 and [e.status for e in executions()] == ["succeeded"]
    assert not SchedulerNode.objects.exists()
    assert set(installed) == {signal.SIGTERM, signal.SIGINT}
