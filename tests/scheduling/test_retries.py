"""Retries with back-off (docs/scheduling.rst, "Retries"): the delay arithmetic, the same fields,
rules and messages in the API, the admin, the CLI and declared jobs, and the engine's part: the
next attempt recorded with the outcome, sent when due, exactly once, held by a pause, judged by the
misfire rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from django_scheduler_api import retries, services
from django_scheduler_api.declared import sync_declared_jobs
from django_scheduler_api.engine import Scheduler, loop, store
from django_scheduler_api.engine.worker import run_execution
from django_scheduler_api.models import MAX_INTERVAL, Execution, Job
from django_scheduler_api.registry import registry
from django_scheduler_api.retries import RetryPolicy, delay
from tests.admin.conftest import form_data
from tests.api.conftest import BASE
from tests.factories import make_execution
from tests.support import run_tasks, scheduler

S = timedelta(seconds=1)
T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
THRESHOLD = timedelta(seconds=60)
RETRYING = {
    "retry_max_attempts": 4,
    "retry_initial_delay": 10,
    "retry_backoff_coefficient": 2,
    "retry_max_delay": 30,
}

# -- the arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "delays"),
    [
        (RetryPolicy(10, 10, 2.0, None), [10, 20, 40, 80, 160]),
        (RetryPolicy(10, 10, 2.0, 30), [10, 20, 30, 30, 30]),
        (RetryPolicy(10, 5, 1.0, None), [5, 5, 5, 5, 5]),
        (RetryPolicy(10, 10, 1.5, None), [10, 15, 22.5, 33.75, 50.625]),
        (RetryPolicy(10, 0, 3.0, None), [0, 0, 0, 0, 0]),
        (RetryPolicy(10, 7, 1.1, 8), [7, 7.7, 8, 8, 8]),
    ],
)
def test_the_delay_after_attempt_n_is_initial_times_coefficient_to_n_minus_1_at_most_max(policy, delays):
    got = [delay(policy, attempt).total_seconds() for attempt in range(1, 6)]
    assert got == pytest.approx(delays, abs=0.001)
    expected = [min(policy.initial_delay * policy.backoff_coefficient ** (n - 1), policy.max_delay or 1e18)
                for n in range(1, 6)]  # fmt: skip
    assert got == pytest.approx(expected, abs=0.001)


def test_a_delay_is_in_whole_milliseconds_and_never_overflows():
    assert delay(RetryPolicy(10, 1, 1.0001, None), 2) == timedelta(milliseconds=1000)
    huge = RetryPolicy(1000, MAX_INTERVAL, 100.0, None)
    assert delay(huge, 1000) == timedelta(seconds=MAX_INTERVAL)
    assert delay(RetryPolicy(1000, 1, 100.0, 600), 999) == timedelta(seconds=600)


def finished_execution(status: str, attempt: int = 1, **fields) -> Execution:
    first = fields.pop("first_execution_id", None)
    return Execution(
        job_id="j", handler="tests.fail", trigger="schedule", status=status, attempt=attempt,
        first_execution_id=first, scheduled_fire_time=T0, fire_time=T0, data={"a": 1},
        previous_fire_time=T0 - S, next_fire_time=T0 + S, **fields,
    )  # fmt: skip


def test_the_next_attempt_repeats_the_fire_at_the_computed_instant():
    failed = finished_execution(Execution.Status.FAILED)
    policy = RetryPolicy(3, 10, 2.0, None)
    second = retries.next_attempt(failed, policy, T0 + 5 * S)
    assert (second.trigger, second.attempt, second.first_execution_id) == ("retry", 2, failed.pk)
    assert second.scheduled_fire_time == second.fire_time == T0 + 15 * S
    assert (second.handler, second.data, second.status) == ("tests.fail", {"a": 1}, "queued")
    assert (second.previous_fire_time, second.next_fire_time) == (T0 - S, T0 + S)
    second.status = Execution.Status.FAILED
    third = retries.next_attempt(second, policy, T0 + 20 * S)
    assert (third.attempt, third.first_execution_id, third.scheduled_fire_time) == (3, failed.pk, T0 + 40 * S)
    third.status = Execution.Status.FAILED
    assert retries.next_attempt(third, policy, T0 + 50 * S) is None  # the last of 3


@pytest.mark.parametrize(
    ("status", "on_lost", "retried"),
    [("failed", False, True), ("lost", False, False), ("lost", True, True), ("succeeded", True, False),
     ("skipped", True, False), ("cancelled", True, False)],
)  # fmt: skip
def test_which_outcomes_are_retried(status, on_lost, retried):
    policy = RetryPolicy(2, 1, 2.0, None, on_lost)
    assert (retries.next_attempt(finished_execution(status), policy, T0) is not None) is retried


def test_one_attempt_means_no_retry():
    assert retries.next_attempt(finished_execution("failed"), RetryPolicy(), T0) is None


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        (RetryPolicy(), "No retries"),
        (RetryPolicy(2, 30, 2.0, None), "Up to 2 attempts, 30 s after a failure"),
        (RetryPolicy(5, 10, 2.0, 300, True),
         "Up to 5 attempts, 10 s after a failure or a loss, then times 2 (at most 300 s)"),
    ],
)  # fmt: skip
def test_descriptions(policy, words):
    assert retries.describe(policy) == words


# -- the API ----------------------------------------------------------------------------------


def test_a_job_answers_its_retry_policy(api, db):
    response = api.post(f"{BASE}/jobs/flaky", {"handler": "tests.fail", **RETRYING, "retry_on_lost": True})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert {k: body[k] for k in RETRYING} == {**RETRYING, "retry_backoff_coefficient": 2.0}
    assert body["retry_on_lost"] is True
    job = Job.objects.get()
    assert RetryPolicy.of(job) == RetryPolicy(4, 10, 2.0, 30, True)


def test_the_legacy_body_is_unchanged_and_means_no_retry(api, db):
    body = api.post(f"{BASE}/jobs/legacy", {"HandlerType": "tests.echo", "CronExpression": "0 0 12 * * ?"})
    answer = body.json()
    assert (answer["retry_max_attempts"], answer["retry_max_delay"], answer["retry_on_lost"]) == (
        1,
        None,
        False,
    )
    assert not RetryPolicy.of(Job.objects.get()).retries


def test_pascal_case_keys_and_nulls_take_the_defaults(api, db):
    body = {
        "HandlerType": "tests.echo",
        "RetryMaxAttempts": 3,
        "RetryInitialDelay": None,
        "RetryMaxDelay": None,
    }
    assert api.post(f"{BASE}/jobs/dotnet", body, format="json").status_code == 200
    assert RetryPolicy.of(Job.objects.get()) == RetryPolicy(3, 10, 2.0, None, False)


def test_patch_changes_the_policy_and_keeps_the_next_fire(api, make_job):
    job = make_job("p", cron_expression="0 0 12 * * ?")
    response = api.patch(f"{BASE}/jobs/p", {"retry_max_attempts": 3, "retry_initial_delay": 5}, format="json")
    assert response.status_code == 200
    stored = Job.objects.get()
    assert (stored.retry_max_attempts, stored.retry_initial_delay) == (3, 5)
    assert stored.next_fire_time == job.next_fire_time


MAX_BELOW_INITIAL = "retry_max_delay must be at least retry_initial_delay."
RETRY_REFUSALS = [
    pytest.param({"retry_max_attempts": 0}, "retry_max_attempts",
                 "Ensure this value is greater than or equal to 1.", id="no-attempt"),
    pytest.param({"retry_max_attempts": 1001}, "retry_max_attempts",
                 "Ensure this value is less than or equal to 1000.", id="too-many"),
    pytest.param({"retry_max_attempts": "three"}, "retry_max_attempts", "A valid integer is required.",
                 id="not-a-number"),
    pytest.param({"retry_initial_delay": -1}, "retry_initial_delay",
                 "Ensure this value is greater than or equal to 0.", id="negative-delay"),
    pytest.param({"retry_initial_delay": 2**31}, "retry_initial_delay",
                 "Ensure this value is less than or equal to 2147483647.", id="delay-too-long"),
    pytest.param({"retry_backoff_coefficient": 0.5}, "retry_backoff_coefficient",
                 "Ensure this value is greater than or equal to 1.", id="shrinking"),
    pytest.param({"retry_backoff_coefficient": 101}, "retry_backoff_coefficient",
                 "Ensure this value is less than or equal to 100.", id="exploding"),
    pytest.param({"retry_backoff_coefficient": "fast"}, "retry_backoff_coefficient",
                 "A valid number is required.", id="coefficient-not-a-number"),
    pytest.param({"retry_max_delay": -5}, "retry_max_delay",
                 "Ensure this value is greater than or equal to 0.", id="negative-max"),
    pytest.param({"retry_initial_delay": 60, "retry_max_delay": 30}, "retry_max_delay", MAX_BELOW_INITIAL,
                 id="max-below-initial"),
    pytest.param({"retry_max_delay": 5}, "retry_max_delay", MAX_BELOW_INITIAL,
                 id="max-below-default-initial"),
    pytest.param({"retry_on_lost": "sometimes"}, "retry_on_lost", "Must be a valid boolean.",
                 id="not-a-boolean"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "field", "message"), RETRY_REFUSALS)
def test_the_api_refuses_bad_retry_policies_and_changes_nothing(
    api, make_job, unchanged, fields, field, message
):
    make_job("kept", cron_expression="0 0 12 * * ?")
    guard = unchanged()
    response = api.post(f"{BASE}/jobs/kept", {"handler": "tests.echo", **fields}, format="json")
    assert response.status_code == 400
    assert response.json()[field] == [message]
    guard.check()


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_the_api_refuses_a_coefficient_that_is_not_finite(api, make_job, unchanged, text):
    make_job("kept", cron_expression="0 0 12 * * ?")
    guard = unchanged()
    body = '{"handler": "tests.echo", "retry_backoff_coefficient": ' + text + "}"
    response = api.post(f"{BASE}/jobs/kept", body, content_type="application/json")
    assert response.status_code == 400
    guard.check()


def test_patch_reads_the_stored_delays(api, make_job, unchanged):
    make_job("kept", cron_expression="0 0 12 * * ?", retry_initial_delay=60)
    guard = unchanged()
    response = api.patch(f"{BASE}/jobs/kept", {"retry_max_delay": 30}, format="json")
    assert response.json() == {"retry_max_delay": [MAX_BELOW_INITIAL]}
    guard.check()


def test_the_schema_documents_the_retry_fields_and_the_trigger(api, db):
    schema = api.get(f"{BASE}/schema", {"format": "json"}).json()
    job = schema["components"]["schemas"]["JobRequest"]["properties"]
    assert (job["retry_max_attempts"]["minimum"], job["retry_max_attempts"]["maximum"]) == (1, 1000)
    assert job["retry_backoff_coefficient"]["minimum"] == 1 and job["retry_max_delay"]["nullable"] is True
    assert job["retry_on_lost"]["type"] == "boolean"
    execution = schema["components"]["schemas"]["Execution"]["properties"]
    assert {"attempt", "first_execution", "first_execution_url"} <= set(execution)
    assert "retry" in schema["components"]["schemas"]["ExecutionTriggerEnum"]["enum"]
    names = [p["name"] for p in schema["paths"]["/scheduler/executions"]["get"]["parameters"]]
    assert "trigger" in names


# -- the admin --------------------------------------------------------------------------------

ADD = reverse("admin:django_scheduler_api_job_add")


def test_the_admin_adds_a_retrying_job_and_describes_its_policy(admin_client, db):
    fields = form_data(id="flaky", retry_max_attempts="5", retry_max_delay="300", retry_on_lost="on")
    response = admin_client.post(ADD, fields)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert RetryPolicy.of(Job.objects.get()) == RetryPolicy(5, 10, 2.0, 300, True)
    page = admin_client.get(reverse("admin:django_scheduler_api_job_change", args=["flaky"])).content.decode()
    assert "Up to 5 attempts, 10 s after a failure or a loss, then times 2 (at most 300 s)" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"retry_max_attempts": "0"}, "retry_max_attempts",
         "Ensure this value is greater than or equal to 1."),
        ({"retry_backoff_coefficient": "0.5"}, "retry_backoff_coefficient",
         "Ensure this value is greater than or equal to 1."),
        ({"retry_backoff_coefficient": "101"}, "retry_backoff_coefficient",
         "Ensure this value is less than or equal to 100."),
        ({"retry_initial_delay": "60", "retry_max_delay": "30"}, "retry_max_delay", MAX_BELOW_INITIAL),
    ],
)  # fmt: skip
def test_the_admin_refuses_what_the_api_refuses(admin_client, db, overrides, field, message):
    response = admin_client.post(ADD, form_data(**overrides))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [message]
    assert not Job.objects.exists()


def test_the_admin_shows_an_executions_attempt_and_its_chain(admin_client, db):
    first = make_execution(status=Execution.Status.FAILED)
    second = make_execution(first.job, trigger="retry", attempt=2, first_execution=first)
    page = admin_client.get(reverse("admin:django_scheduler_api_execution_change", args=[second.pk]))
    assert str(first.pk)[:8] in page.content.decode()
    page = admin_client.get(reverse("admin:django_scheduler_api_execution_change", args=[first.pk]))
    assert "attempt 2" in page.content.decode()
    listing = admin_client.get(
        reverse("admin:django_scheduler_api_execution_changelist"), {"trigger": "retry"}
    )
    assert [e.pk for e in listing.context["cl"].result_list] == [second.pk]


# -- declared jobs ----------------------------------------------------------------------------
# A declaration refused with the API's words: tests/test_declared.py, with the cases of RETRY_REFUSALS.


def test_a_declared_job_with_a_retry_policy(settings, db):
    declared = {"id": "flaky", "handler": "tests.fail", "cron_expression": "0 0 3 * * ?", **RETRYING}
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "JOBS": [declared]}
    assert sync_declared_jobs().created == ["flaky"]
    assert RetryPolicy.of(Job.objects.get()) == RetryPolicy(4, 10, 2.0, 30, False)
    assert sync_declared_jobs().unchanged == ["flaky"]


def test_a_handler_declares_its_retry_policy(db):
    registry.register("tests.retried", lambda ctx: None, cron_expression="0 0 3 * * ?", retry_max_attempts=3)
    try:
        assert sync_declared_jobs().created == ["tests.retried"]
    finally:
        registry.unregister("tests.retried")
    assert RetryPolicy.of(Job.objects.get()) == RetryPolicy(3, 10, 2.0, None, False)


# -- the CLI ----------------------------------------------------------------------------------


def test_the_cli_lists_and_shows_the_policy_and_the_attempts(db):
    job, _ = services.save_job("flaky", {"handler": "tests.fail", **RETRYING})
    services.save_job("plain", {"handler": "tests.echo"})
    first = make_execution(job, Execution.Status.FAILED, minutes_ago=1)
    make_execution(job, trigger="retry", attempt=2, first_execution=first)
    listed = scheduler("list")
    assert re.search(r"^flaky .* 4$", listed, re.M) and re.search(r"^plain .* 1$", listed, re.M)
    shown = scheduler("show", "flaky")
    assert "retry_max_attempts:" in shown and "retry_backoff_coefficient:" in shown
    assert "Up to 4 attempts, 10 s after a failure, then times 2 (at most 30 s)" in shown
    assert re.search(r"retry\s+2\s+queued", shown)
    assert "No retries" in scheduler("show", "plain")


# -- the engine -------------------------------------------------------------------------------


def retrying_job(job_id: str = "flaky", handler: str = "tests.fail", **fields) -> Job:
    job, _ = services.save_job(job_id, {"handler": handler, "cron_expression": "0 0 12 * * ?", **RETRYING,
                                        **fields})  # fmt: skip
    return job


def send(executions: list[Execution]) -> int:
    """The scheduler's ``send`` (through the broker), then what a worker does with the tasks."""
    sent = loop.send(executions)
    run_tasks()
    return sent


def chain(job_id: str = "flaky") -> list[Execution]:
    return list(Execution.objects.filter(job_id=job_id).order_by("attempt"))


def test_a_failure_records_the_next_attempt_with_its_outcome(db):
    first = make_execution(retrying_job())
    assert run_execution(str(first.id)) == "failed"
    first.refresh_from_db()
    failed, second = chain()
    assert failed.pk == first.pk and failed.attempt == 1 and failed.first_execution_id is None
    assert (second.trigger, second.status, second.attempt, second.first_execution_id) == (
        "retry",
        "queued",
        2,
        first.pk,
    )
    assert second.scheduled_fire_time == first.finished_at + 10 * S
    assert second.enqueued_at is None  # waits for its instant


def test_a_success_or_a_job_without_retries_records_none(db):
    ok = make_execution(retrying_job(handler="tests.echo"))
    plain, _ = services.save_job("plain", {"handler": "tests.fail"})
    bad = make_execution(plain)
    assert (run_execution(str(ok.id)), run_execution(str(bad.id))) == ("succeeded", "failed")
    assert Execution.objects.count() == 2


def test_a_retry_is_sent_when_due_and_not_before_and_attempts_stop_at_the_maximum(db):
    first = make_execution(retrying_job())
    run_execution(str(first.id))
    for attempt in (2, 3, 4):
        waiting = chain()[-1]
        assert (waiting.attempt, waiting.status) == (attempt, "queued")
        before = waiting.scheduled_fire_time - timedelta(milliseconds=1)
        assert store.send_due_retries(before, limit=10, send=send, threshold=THRESHOLD).sent == 0
        assert store.next_retry_time() == waiting.scheduled_fire_time
        due = store.send_due_retries(waiting.scheduled_fire_time, limit=10, send=send, threshold=THRESHOLD)
        assert due.sent == 1  # run, failed again
    attempts = chain()
    assert [(e.attempt, e.status) for e in attempts] == [(n, "failed") for n in (1, 2, 3, 4)]
    delays = [(b.scheduled_fire_time - a.finished_at).total_seconds() for a, b in pairwise(attempts)]
    assert delays == [10, 20, 30]  # 10 x 2^(n-1), at most 30
    assert {e.first_execution_id for e in attempts[1:]} == {first.pk}
    assert store.next_retry_time() is None


def test_the_database_refuses_a_second_row_for_one_attempt(db):
    first = make_execution(retrying_job(), Execution.Status.FAILED)
    make_execution(first.job, trigger="retry", attempt=2, first_execution=first)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_execution(first.job, trigger="retry", attempt=2, first_execution=first)
    assert Execution.objects.count() == 2


def test_an_outcome_written_twice_records_one_next_attempt(db):
    first = make_execution(retrying_job())
    run_execution(str(first.id))
    first.refresh_from_db()
    assert store.record_retries(Execution.objects.filter(pk=first.pk)) == 0
    assert len(chain()) == 2


def test_a_retry_at_the_same_instant_as_a_fire_does_not_collide_with_it(db):
    first = make_execution(retrying_job(), Execution.Status.FAILED)
    retry = make_execution(first.job, trigger="retry", attempt=2, first_execution=first)
    make_execution(first.job, at=retry.scheduled_fire_time)  # a schedule fire at the very instant
    assert Execution.objects.filter(scheduled_fire_time=retry.scheduled_fire_time).count() == 2


def test_the_outbox_leaves_waiting_retries_to_their_instant(db):
    first = make_execution(retrying_job())
    run_execution(str(first.id))
    later = timezone.now() + timedelta(seconds=5)  # past ENQUEUE_GRACE of the row, before its due time
    outbox = store.send_outbox(later, grace=timedelta(0), limit=10, send=send, threshold=THRESHOLD)
    assert outbox.sent == 0 and chain()[-1].status == "queued"


def test_a_paused_job_holds_its_retries_and_a_late_one_is_a_misfire_by_policy(db):
    first = make_execution(retrying_job())
    run_execution(str(first.id))
    waiting = chain()[-1]
    services.pause_jobs(["flaky"])
    assert store.next_retry_time() is None
    due = waiting.scheduled_fire_time
    assert store.send_due_retries(due, limit=10, send=send, threshold=THRESHOLD).sent == 0
    services.resume_jobs(["flaky"])
    late = store.send_due_retries(due + THRESHOLD + S, limit=10, send=send, threshold=THRESHOLD)
    assert (late.sent, late.misfired) == (0, 1)
    waiting.refresh_from_db()
    assert waiting.status == "skipped" and waiting.error.startswith("Misfire:")
    assert len(chain()) == 2  # a skipped attempt ends the chain


def test_under_fire_and_proceed_a_late_retry_runs(db):
    first = make_execution(retrying_job(misfire_policy="fire_and_proceed"))
    run_execution(str(first.id))
    due = chain()[-1].scheduled_fire_time
    assert store.send_due_retries(due + THRESHOLD + S, limit=10, send=send, threshold=THRESHOLD).sent == 1
    assert chain()[1].status == "failed" and len(chain()) == 3


def test_lost_executions_are_retried_only_when_the_policy_says_so(db):
    now = timezone.now()
    for job_id, on_lost in (("lost.no", False), ("lost.yes", True)):
        job = retrying_job(job_id, retry_on_lost=on_lost)
        make_execution(job, Execution.Status.RUNNING, started_at=now - timedelta(hours=2), minutes_ago=120)
    assert store.mark_lost(now, timeout=timedelta(hours=1)) == 2
    assert [e.status for e in chain("lost.no")] == ["lost"]
    lost, retry = chain("lost.yes")
    assert (lost.status, retry.trigger, retry.attempt) == ("lost", "retry", 2)
    assert retry.scheduled_fire_time == now + 10 * S


def test_a_retry_of_a_lost_attempt_that_succeeded_after_all_is_cancelled(db):
    now = timezone.now()
    job = retrying_job(retry_on_lost=True, handler="tests.echo")
    running = make_execution(job, Execution.Status.RUNNING, started_at=now - timedelta(hours=2))
    store.mark_lost(now, timeout=timedelta(hours=1))
    store.record_outcomes([(running, {"status": "succeeded", "started_at": now, "finished_at": now})])
    assert chain()[0].status == "succeeded"
    sent = store.send_due_retries(now + 10 * S, limit=10, send=send, threshold=THRESHOLD)
    retry = chain()[1]
    assert sent.sent == 0 and retry.status == "cancelled" and "succeeded after all" in retry.error


def test_deleting_the_job_cancels_its_waiting_retries(db):
    first = make_execution(retrying_job())
    run_execution(str(first.id))
    services.delete_job("flaky")
    assert chain()[-1].status == "cancelled"


def test_the_loop_sends_due_retries_and_sleeps_until_the_next(db):
    first = make_execution(retrying_job(cron_expression="0 0 0 1 1 ?"))
    run_execution(str(first.id))
    due = chain()[-1].scheduled_fire_time
    early = Scheduler("test:retries", clock=lambda: due - timedelta(milliseconds=300))
    assert early.tick().retried == 0
    assert 0 < early.sleep_time() <= 0.3  # until the retry is due, not MAX_SLEEP (1 s)
    assert Scheduler("test:retries", clock=lambda: due).tick().retried == 1
    assert run_tasks() == 1
    assert chain()[1].status == "failed"


def test_the_handler_knows_its_attempt(db):
    job = retrying_job(handler="tests.flaky", data={"succeed_at": 2})
    first = make_execution(job)
    run_execution(str(first.id))
    retry = chain()[-1]
    store.send_due_retries(retry.scheduled_fire_time, limit=10, send=send, threshold=THRESHOLD)
    assert [(e.status, e.result) for e in chain()] == [("failed", None), ("succeeded", {"attempt": 2})]


# -- executions in the API --------------------------------------------------------------------


def test_executions_show_attempts_and_filter_by_trigger(api, db):
    first = make_execution(retrying_job(), Execution.Status.FAILED, minutes_ago=1)
    retry = make_execution(first.job, trigger="retry", attempt=2, first_execution=first)
    body = api.get(f"{BASE}/executions", {"trigger": "retry"}).json()
    assert [e["id"] for e in body] == [str(retry.pk)]
    assert (body[0]["attempt"], body[0]["first_execution"]) == (2, str(first.pk))
    assert body[0]["first_execution_url"] == f"http://testserver{BASE}/executions/{first.pk}"
    detail = api.get(f"{BASE}/executions/{first.pk}").json()
    assert (detail["attempt"], detail["first_execution"], detail["first_execution_url"]) == (1, None, None)
    of_job = api.get(f"{BASE}/jobs/flaky/executions", {"trigger": "RETRY"}).json()
    assert [e["id"] for e in of_job] == [str(retry.pk)]
    refused = api.get(f"{BASE}/executions", {"trigger": "again"})
    assert refused.status_code == 400 and "trigger" in refused.json()
