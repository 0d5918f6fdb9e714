"""Overlap (docs/scheduling.rst, "Overlap"): ``buffer_one`` keeps one fire waiting while a run is in
progress, ``max_concurrent`` lets N run at once; decided under the job's row lock, released by any
scheduler; the fields taken and refused alike everywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from django_scheduler_api import services
from django_scheduler_api.declared import sync_declared_jobs
from django_scheduler_api.engine import store
from django_scheduler_api.engine.loop import Scheduler
from django_scheduler_api.models import Execution, Job
from django_scheduler_api.planning import Fire, Occupancy, apply_overlap
from tests.admin.conftest import form_data
from tests.api.conftest import BASE
from tests.cli.test_scheduler_command import scheduler
from tests.factories import make_due_job, make_execution
from tests.scheduling.test_timeouts import shown
from tests.support import run_tasks

S = timedelta(seconds=1)
THRESHOLD = timedelta(seconds=60)
Status = Execution.Status


def outcome(fires: tuple[Fire, ...]) -> list[str]:
    return ["skip" if f.skipped else "wait" if f.waiting else "run" for f in fires]


@pytest.mark.parametrize(
    ("policy", "limit", "occupancy", "expected"),
    [
        ("allow", None, Occupancy(pending=9), ["run", "run", "run", "run"]),
        ("skip", None, Occupancy(), ["run", "skip", "skip", "skip"]),
        ("skip", 2, Occupancy(pending=1), ["run", "skip", "skip", "skip"]),
        ("skip", 3, Occupancy(), ["run", "run", "run", "skip"]),
        ("buffer_one", None, Occupancy(), ["run", "wait", "skip", "skip"]),
        ("buffer_one", None, Occupancy(pending=1), ["wait", "skip", "skip", "skip"]),
        ("buffer_one", None, Occupancy(pending=1, waiting=1), ["skip", "skip", "skip", "skip"]),
        ("buffer_one", 2, Occupancy(pending=1), ["run", "wait", "skip", "skip"]),
        # A free place, but a run waits: it is first in line, the new fire is skipped.
        ("buffer_one", 2, Occupancy(pending=1, waiting=1), ["skip", "skip", "skip", "skip"]),
    ],
)
def test_each_fire_runs_waits_or_is_skipped_by_the_policy(policy, limit, occupancy, expected):
    t = timezone.now()
    fires = tuple(Fire(t + k * S) for k in range(4))
    planned = apply_overlap(fires, policy=policy, max_concurrent=limit, occupancy=occupancy)
    assert outcome(planned) == expected
    assert [f.scheduled for f in planned] == [f.scheduled for f in fires]


def claim(at):
    return store.claim_due(at, node="test:1", limit=10, threshold=THRESHOLD)


@pytest.mark.django_db
def test_buffer_one_keeps_one_fire_waiting_and_releases_it_when_the_run_ends():
    t = timezone.now().replace(microsecond=0) - 10 * S
    job = make_due_job("buffered", due=t, overlap_policy="buffer_one")
    running = make_execution(job, Status.RUNNING, at=t - S, started_at=t - S)
    claim(t + 2 * S)  # three fires: one waits, two are skipped
    fires = list(Execution.objects.exclude(pk=running.pk).order_by("scheduled_fire_time"))
    assert [f.status for f in fires] == [Status.WAITING, Status.SKIPPED, Status.SKIPPED]
    assert store.release_waiting(limit=10) == []  # still running
    Execution.objects.filter(pk=running.pk).update(status=Status.SUCCEEDED, finished_at=timezone.now())
    now = timezone.now()
    (released,) = store.release_waiting(limit=10, clock=lambda: now)
    assert released.pk == fires[0].pk
    row = Execution.objects.get(pk=released.pk)
    assert (row.status, row.released_at) == (Status.QUEUED, now)
    # Waited longer than the misfire threshold, but late only from its release: it runs.
    assert store.misfires([row], now + S, threshold=THRESHOLD) == []
    assert store.misfires([row], now + THRESHOLD + S, threshold=THRESHOLD) == [row]
    assert store.release_waiting(limit=10) == []


@pytest.mark.django_db
def test_max_concurrent_lets_n_run_and_skips_or_buffers_beyond():
    t = timezone.now().replace(microsecond=0) - 10 * S
    skip = make_due_job("skip2", due=t, overlap_policy="skip", max_concurrent=2)
    buffer = make_due_job("buffer2", due=t, overlap_policy="buffer_one", max_concurrent=2)
    for job in (skip, buffer):
        make_execution(job, Status.RUNNING, at=t - S)
    claim(t + 3 * S)
    statuses = {
        job.pk: list(
            Execution.objects.filter(job=job, scheduled_fire_time__gte=t)
            .order_by("scheduled_fire_time")
            .values_list("status", flat=True)
        )
        for job in (skip, buffer)
    }
    assert statuses["skip2"] == [Status.QUEUED, Status.SKIPPED, Status.SKIPPED, Status.SKIPPED]
    assert statuses["buffer2"] == [Status.QUEUED, Status.WAITING, Status.SKIPPED, Status.SKIPPED]


@pytest.mark.django_db
def test_a_waiting_run_outlives_its_scheduler_and_another_one_releases_and_runs_it():
    """Nothing of the decision is in memory: a new scheduler (a restart) finds the waiting row."""
    t = timezone.now().replace(microsecond=0) - 5 * S
    job = make_due_job("buffered", due=None, overlap_policy="buffer_one")
    waiting = make_execution(job, Status.WAITING, at=t)
    Scheduler("restarted").tick()
    assert run_tasks() == 1
    row = Execution.objects.get(pk=waiting.pk)
    assert row.status == Status.SUCCEEDED and row.released_at is not None


@pytest.mark.django_db
def test_deleting_a_job_cancels_its_waiting_run():
    job = make_due_job("buffered", due=None, overlap_policy="buffer_one")
    waiting = make_execution(job, Status.WAITING)
    services.delete_job("buffered")
    assert Execution.objects.get(pk=waiting.pk).status == Status.CANCELLED


# -- front ends --------------------------------------------------------------------------------------


def test_the_api_takes_the_policy_and_the_limit(api, db):
    body = {"handler": "tests.echo", "overlap_policy": "BufferOne", "max_concurrent": 3}
    job = api.post(f"{BASE}/jobs/buffered", body, format="json").json()
    assert (job["overlap_policy"], job["max_concurrent"]) == ("buffer_one", 3)
    plain = api.post(f"{BASE}/jobs/plain", {"handler": "tests.echo"}, format="json").json()
    assert (plain["overlap_policy"], plain["max_concurrent"]) == ("allow", None)
    # A PATCH is checked against the stored job: the limit stays valid under skip.
    assert api.patch(f"{BASE}/jobs/buffered", {"overlap_policy": "skip"}, format="json").status_code == 200


ALLOW_MESSAGE = "max_concurrent needs overlap_policy skip or buffer_one (allow sets no limit)."


@pytest.mark.parametrize(
    ("body", "field", "message", "admin_message"),
    [({"max_concurrent": 0, "overlap_policy": "skip"}, "max_concurrent",
      "Ensure this value is greater than or equal to 1.", None),
     ({"max_concurrent": "x", "overlap_policy": "skip"}, "max_concurrent",
      "A valid integer is required.", "Enter a whole number."),
     ({"max_concurrent": 2}, "max_concurrent", ALLOW_MESSAGE, None),
     ({"max_concurrent": 2, "overlap_policy": "allow"}, "max_concurrent", ALLOW_MESSAGE, None),
     ({"overlap_policy": "buffer_all"}, "overlap_policy", '"buffer_all" is not a valid choice.',
      "Select a valid choice. buffer_all is not one of the available choices.")],
)  # fmt: skip
def test_bad_overlap_fields_are_refused_alike_everywhere(
    api, admin_client, settings, make_job, unchanged, body, field, message, admin_message
):
    make_job("kept")
    guard = unchanged()
    response = api.patch(f"{BASE}/jobs/kept", body, format="json")
    assert response.status_code == 400 and response.json()[field] == [message]
    response = api.post(f"{BASE}/jobs/new", {"handler": "tests.echo", **body}, format="json")
    assert response.status_code == 400 and response.json()[field] == [message]
    form = form_data(id="new", **{key: str(value) for key, value in body.items()})
    admin = admin_client.post(reverse("admin:django_scheduler_api_job_add"), form)
    assert admin.context["adminform"].form.errors[field] == [admin_message or message]
    settings.SCHEDULER_API = {
        **settings.SCHEDULER_API,
        "JOBS": [{"id": "decl", "handler": "tests.echo", **body}],
    }
    assert message in sync_declared_jobs().invalid["decl"]
    guard.check()


def test_the_admin_saves_the_fields_and_the_cli_shows_them(admin_client, db):
    form = form_data(id="buffered", overlap_policy="buffer_one", max_concurrent="2", timeout="30")
    assert admin_client.post(reverse("admin:django_scheduler_api_job_add"), form).status_code == 302
    assert Job.objects.filter(pk="buffered", overlap_policy="buffer_one", max_concurrent=2).exists()
    services.save_job("skipping", {"handler": "tests.echo", "overlap_policy": "skip"})
    text = scheduler("show", "buffered")
    assert (shown(text, "overlap_policy"), shown(text, "max_concurrent")) == ("buffer_one", "2")
    assert shown(scheduler("show", "skipping"), "max_concurrent") == "1"
    rows = {line.split()[0]: line for line in scheduler("list").splitlines()[1:3]}
    assert "buffer_one (max 2), timeout 30 s" in rows["buffered"]
    assert "skip (max 1)" in rows["skipping"]


def test_a_declared_job_takes_the_fields(settings, db):
    declared = {"id": "decl", "handler": "tests.echo", "overlap_policy": "buffer_one", "max_concurrent": 4}
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "JOBS": [declared]}
    assert not sync_declared_jobs().invalid
    assert Job.objects.filter(pk="decl", overlap_policy="buffer_one", max_concurrent=4).exists()


def test_the_schema_documents_the_fields(api, db):
    schema = api.get(f"{BASE}/schema", {"format": "json"}).json()
    job = schema["components"]["schemas"]["Job"]["properties"]
    assert job["max_concurrent"]["minimum"] == 1 and job["max_concurrent"]["nullable"] is True
    statuses = schema["components"]["schemas"]["ExecutionStatusEnum"]["enum"]
    assert "waiting" in statuses


@pytest.mark.django_db
def test_a_retry_waiting_for_its_instant_holds_its_place():
    """A recorded retry is the fire run again (docs/scheduling.rst, "Overlap"): a fire during its
    back-off waits under buffer_one until the retry has run."""
    t = timezone.now().replace(microsecond=0) - 10 * S
    job = make_due_job("retried", due=t, overlap_policy="buffer_one", retry_max_attempts=2)
    failed = make_execution(job, Status.FAILED, at=t - 5 * S, finished_at=t - 4 * S)
    retry = make_execution(
        job, at=t + 60 * S, trigger="retry", attempt=2, first_execution=failed, enqueued_at=None
    )
    claim(t)
    fire = Execution.objects.get(job=job, trigger="schedule", scheduled_fire_time=t)
    assert fire.status == Status.WAITING
    assert store.release_waiting(limit=10) == []  # the retry still holds the place
    Execution.objects.filter(pk=retry.pk).update(status=Status.SUCCEEDED, finished_at=timezone.now())
    assert [e.pk for e in store.release_waiting(limit=10)] == [fire.pk]
