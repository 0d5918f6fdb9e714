"""Per-job timeouts (docs/scheduling.rst, "Timeouts"): a handler that outruns its job's ``timeout`` is
stopped and recorded failed, alone in its task; the field is taken and refused alike everywhere."""

from __future__ import annotations

import signal
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf
from django_q.signing import SignedPackage

from django_scheduler_api import services
from django_scheduler_api.declared import sync_declared_jobs
from django_scheduler_api.engine import deadlines, dispatch, store
from django_scheduler_api.engine.worker import run_execution, run_executions
from django_scheduler_api.models import Execution, Job
from tests.admin.conftest import form_data
from tests.api.conftest import BASE
from tests.cli.test_scheduler_command import scheduler
from tests.factories import make_due_job, make_execution

TIMED_OUT = "Timed out after 1 s (the job's timeout); the handler was stopped."


# -- the worker ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("handler", ["tests.sleep", "tests.stubborn"])
def test_a_handler_that_outruns_its_timeout_is_stopped_and_recorded_failed(handler):
    """Stopped however it catches ``Exception``: the timeout is a ``BaseException``."""
    execution = make_execution(handler=handler, data={"seconds": 600}, timeout=1)
    assert run_execution(str(execution.id)) == Execution.Status.FAILED
    execution.refresh_from_db()
    assert execution.status == Execution.Status.FAILED
    assert execution.error == TIMED_OUT
    assert "HandlerTimedOut" in execution.traceback
    assert execution.result is None and execution.finished_at is not None


@pytest.mark.django_db
def test_a_handler_within_its_timeout_succeeds_and_the_alarm_is_gone():
    execution = make_execution(handler="tests.echo", timeout=60)
    assert run_execution(str(execution.id)) == Execution.Status.SUCCEEDED
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)


def test_an_alarm_armed_before_the_deadline_is_put_back():
    """django-q2's alarm for the task is armed first; the deadline restores what is left of it."""
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 500)
        with deadlines.deadline(100):
            assert 99 < signal.getitimer(signal.ITIMER_REAL)[0] <= 100
        assert 100 < signal.getitimer(signal.ITIMER_REAL)[0] <= 500
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- sending: each timed execution alone, with django-q2's per-task timeout ------------------------


@pytest.mark.django_db
def test_executions_with_a_timeout_travel_alone_with_djangos_per_task_timeout(monkeypatch):
    monkeypatch.setattr(Conf, "WORKERS", 1)
    t = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    for i in range(3):
        make_due_job(f"plain.{i}", due=t)
    make_due_job("timed.a", due=t, timeout=7)
    make_due_job("timed.b", due=t, timeout=9)
    claim = store.claim_due(t, node="test:1", limit=10, threshold=timedelta(seconds=60))
    held = dispatch.HeldTasks(dispatch.broker())
    task_ids = dispatch._make_tasks(claim.to_send, held, None)
    tasks = [SignedPackage.loads(package) for package in held.packages]
    carried = sorted((len(task["args"][0]), task.get("timeout")) for task in tasks)
    assert carried == [(1, 7 + deadlines.TASK_MARGIN), (1, 9 + deadlines.TASK_MARGIN), (3, None)]
    by_job = dict(zip([e.job_id for e in claim.to_send], task_ids, strict=True))
    assert len({by_job["timed.a"], by_job["timed.b"], by_job["plain.0"]}) == 3
    assert by_job["plain.0"] == by_job["plain.1"] == by_job["plain.2"]


@pytest.mark.django_db
def test_a_fire_and_a_manual_trigger_carry_the_jobs_timeout():
    t = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    make_due_job("timed", due=t, timeout=5)
    store.claim_due(t, node="test:1", limit=10, threshold=timedelta(seconds=60))
    services.trigger_jobs(["timed"])
    assert sorted(Execution.objects.values_list("trigger", "timeout")) == [("manual", 5), ("schedule", 5)]


# -- the scheduler's sweep: a run its worker could not stop ----------------------------------------


@pytest.mark.django_db
def test_the_sweep_fails_runs_past_their_deadline_and_leaves_the_others():
    now = timezone.now()
    grace = timedelta(seconds=deadlines.SWEEP_GRACE)
    started = now - timedelta(seconds=1) - grace - timedelta(seconds=1)
    overdue = make_execution(status=Execution.Status.RUNNING, started_at=started, timeout=1)
    within = make_execution(status=Execution.Status.RUNNING, started_at=now, timeout=1)
    unbounded = make_execution(status=Execution.Status.RUNNING, started_at=started)
    done = make_execution(status=Execution.Status.SUCCEEDED, started_at=started, timeout=1)
    assert store.mark_timed_out(now, grace=grace) == 1
    statuses = {e.pk: (e.status, e.error) for e in Execution.objects.all()}
    assert statuses[overdue.pk] == (Execution.Status.FAILED, TIMED_OUT)
    assert statuses[within.pk][0] == statuses[unbounded.pk][0] == Execution.Status.RUNNING
    assert statuses[done.pk][0] == Execution.Status.SUCCEEDED
    assert store.mark_timed_out(now, grace=grace) == 0


@pytest.mark.django_db
def test_a_shared_task_of_jobs_without_timeout_is_unchanged():
    """The task of several executions still starts them together on the pool's threads."""
    executions = [make_execution(handler="tests.echo", data={"i": i}) for i in range(3)]
    outcomes = run_executions([str(e.id) for e in executions])
    assert set(outcomes.values()) == {Execution.Status.SUCCEEDED}


# -- front ends --------------------------------------------------------------------------------------


def test_the_api_takes_a_timeout_and_null_means_none(api, db):
    body = {"handler": "tests.echo", "cron_expression": "0 * * * * ?", "timeout": 30}
    assert api.post(f"{BASE}/jobs/bounded", body, format="json").json()["timeout"] == 30
    assert Job.objects.get(pk="bounded").timeout == 30
    assert api.post(f"{BASE}/jobs/free", {"handler": "tests.echo"}, format="json").json()["timeout"] is None
    assert api.patch(f"{BASE}/jobs/bounded", {"timeout": None}, format="json").json()["timeout"] is None
    assert Job.objects.get(pk="bounded").timeout is None


LIMIT_MESSAGE = (
    "timeout may be at most 60 s: django-q2's cluster timeout (Q_CLUSTER['timeout']) and "
    "EXECUTION_TIMEOUT bound every run."
)


@pytest.mark.parametrize(
    ("value", "message", "admin_message"),
    [(0, "Ensure this value is greater than or equal to 1.", None),
     (-5, "Ensure this value is greater than or equal to 1.", None),
     (61, LIMIT_MESSAGE, None),
     ("soon", "A valid integer is required.", "Enter a whole number.")],
)  # fmt: skip
def test_a_bad_timeout_is_refused_alike_everywhere(
    api, admin_client, settings, make_job, unchanged, value, message, admin_message
):
    """The test cluster's ``timeout`` is 60 s: the limit (``deadlines.timeout_limit``)."""
    make_job("kept", cron_expression="0 * * * * ?")
    guard = unchanged()
    response = api.patch(f"{BASE}/jobs/kept", {"timeout": value}, format="json")
    assert response.status_code == 400 and response.json()["timeout"] == [message]
    response = api.post(f"{BASE}/jobs/new", {"handler": "tests.echo", "timeout": value}, format="json")
    assert response.status_code == 400 and response.json()["timeout"] == [message]
    admin = admin_client.post(
        reverse("admin:django_scheduler_api_job_add"), form_data(id="new", timeout=str(value))
    )
    assert admin.context["adminform"].form.errors["timeout"] == [admin_message or message]
    settings.SCHEDULER_API = {
        **settings.SCHEDULER_API,
        "JOBS": [{"id": "decl", "handler": "tests.echo", "timeout": value}],
    }
    assert message in sync_declared_jobs().invalid["decl"]
    guard.check()


def test_the_limit_follows_execution_timeout_when_it_is_lower(api, settings, db, unchanged):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "EXECUTION_TIMEOUT": 30}
    assert deadlines.timeout_limit() == 30
    guard = unchanged()
    response = api.post(f"{BASE}/jobs/new", {"handler": "tests.echo", "timeout": 31}, format="json")
    assert response.status_code == 400 and "at most 30 s" in response.json()["timeout"][0]
    guard.check()


def test_the_admin_saves_a_timeout_and_the_cli_shows_it(admin_client, db):
    response = admin_client.post(
        reverse("admin:django_scheduler_api_job_add"), form_data(id="bounded", timeout="45")
    )
    assert response.status_code == 302
    assert Job.objects.get(pk="bounded").timeout == 45
    services.save_job("free", {"handler": "tests.echo"})
    assert shown(scheduler("show", "bounded"), "timeout") == "45 s"
    assert shown(scheduler("show", "free"), "timeout") == "none"
    rows = {line.split()[0]: line for line in scheduler("list").splitlines()[1:3]}
    assert "timeout 45 s" in rows["bounded"] and "timeout" not in rows["free"]


def shown(text: str, name: str) -> str:
    """The value ``manage.py scheduler show`` prints for a field."""
    (line,) = [line for line in text.splitlines() if line.startswith(f"{name}:")]
    return line.split(":", 1)[1].strip()


def test_a_declared_job_takes_a_timeout(settings, db):
    settings.SCHEDULER_API = {
        **settings.SCHEDULER_API,
        "JOBS": [{"id": "decl", "handler": "tests.echo", "cron_expression": "0 * * * * ?", "timeout": 20}],
    }
    assert not sync_declared_jobs().invalid
    assert Job.objects.get(pk="decl").timeout == 20


def test_the_schema_documents_the_timeout(api, db):
    schema = api.get(f"{BASE}/schema", {"format": "json"}).json()
    fields = schema["components"]["schemas"]["Job"]["properties"]
    assert fields["timeout"]["type"] == "integer" and fields["timeout"]["nullable"] is True
    assert fields["timeout"]["minimum"] == 1


# -- with retries: a timed-out run is a failure (docs/scheduling.rst, "Retries") -------------------


def retrying_sleeper() -> Job:
    job, _ = services.save_job(
        "slow.retried",
        {"handler": "tests.sleep", "timeout": 1, "retry_max_attempts": 2, "data": {"seconds": 600}},
    )
    return job


@pytest.mark.django_db
def test_a_run_stopped_by_its_timeout_is_retried_with_the_same_timeout():
    first = make_execution(retrying_sleeper(), data={"seconds": 600}, timeout=1)
    assert run_execution(str(first.id)) == Execution.Status.FAILED
    retry = Execution.objects.get(first_execution_id=first.pk)
    assert (retry.trigger, retry.attempt, retry.status, retry.timeout) == ("retry", 2, "queued", 1)


@pytest.mark.django_db
def test_the_sweep_records_the_next_attempt_of_a_run_it_fails():
    now = timezone.now()
    grace = timedelta(seconds=deadlines.SWEEP_GRACE)
    started = now - timedelta(seconds=1) - grace - timedelta(seconds=1)
    overdue = make_execution(retrying_sleeper(), Execution.Status.RUNNING, started_at=started, timeout=1)
    assert store.mark_timed_out(now, grace=grace) == 1
    retry = Execution.objects.get(first_execution_id=overdue.pk)
    assert (retry.trigger, retry.attempt, retry.timeout) == ("retry", 2, 1)
    assert retry.scheduled_fire_time == now + timedelta(seconds=10)
    assert store.mark_timed_out(now, grace=grace) == 0
    assert Execution.objects.count() == 2
