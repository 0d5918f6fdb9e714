"""Backfill (docs/scheduling.rst, "Backfill"): one ``backfill`` execution per past fire time of a
job's schedule in a range, each once whoever records it; refusals change nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from django_scheduler_api import backfill
from django_scheduler_api.engine import dispatch, store
from django_scheduler_api.models import Execution, Job
from django_scheduler_api.planning import Schedule, fires_after
from django_scheduler_api.validation import error_message
from tests.api.conftest import BASE
from tests.factories import make_execution
from tests.support import ROOT, child_env, run_tasks, scheduler

JAN1 = datetime(2026, 1, 1, tzinfo=UTC)
NOON = "0 0 12 * * ?"
S = timedelta(seconds=1)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def post(api, job_id: str, start: datetime | str, end: datetime | str, **extra):
    body = {
        "start": iso(start) if isinstance(start, datetime) else start,
        "end": iso(end) if isinstance(end, datetime) else end,
        **extra,
    }
    return api.post(f"{BASE}/jobs/{job_id}/backfill", body, format="json")


def recorded(job_id: str) -> list[datetime]:
    rows = Execution.objects.filter(job_id=job_id).order_by("scheduled_fire_time")
    return list(rows.values_list("scheduled_fire_time", flat=True))


def noons(first: int, last: int) -> list[datetime]:
    """Noon (UTC) of the January days ``first`` to ``last``."""
    return [JAN1 + timedelta(days=day - 1, hours=12) for day in range(first, last + 1)]


# -- what a backfill records -------------------------------------------------------------------


def test_a_cron_job_gets_one_backfill_execution_per_fire_time_of_the_range(api, make_job):
    make_job("reports.daily", cron_expression=NOON, data={"to": "ops"})
    response = post(api, "reports.daily", JAN1, JAN1 + timedelta(days=5) - S)
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert (answer["fire_times"], answer["created"], answer["already_recorded"]) == (5, 5, 0)
    assert answer["job"] == "reports.daily"
    assert (
        answer["executions_url"]
        == "http://testserver/scheduler/jobs/reports.daily/executions?trigger=backfill"
    )
    assert [e["scheduled_fire_time"] for e in answer["executions"]] == [iso(t) for t in noons(1, 5)]
    rows = Execution.objects.filter(job_id="reports.daily").order_by("scheduled_fire_time")
    assert [e.scheduled_fire_time for e in rows] == noons(1, 5)
    assert {str(e.pk) for e in rows} == {e["execution"] for e in answer["executions"]}
    assert {(e.trigger, e.status, e.handler) for e in rows} == {("backfill", "queued", "tests.echo")}
    assert all(e.data == {"to": "ops"} for e in rows)
    # Each knows its neighbours in the schedule; the first one's previous is not searched for.
    assert [e.previous_fire_time for e in rows] == [None, *noons(1, 4)]
    assert [e.next_fire_time for e in rows] == noons(2, 6)


def test_the_range_includes_both_ends(api, make_job):
    make_job("daily", cron_expression=NOON)
    answer = post(api, "daily", noons(1, 1)[0], noons(3, 3)[0]).json()
    assert answer["fire_times"] == 3 and recorded("daily") == noons(1, 3)


def test_a_second_backfill_of_the_range_creates_nothing_and_an_overlapping_one_only_the_new(api, make_job):
    make_job("daily", cron_expression=NOON)
    post(api, "daily", JAN1, JAN1 + timedelta(days=5) - S)
    again = post(api, "daily", JAN1, JAN1 + timedelta(days=5) - S).json()
    assert (again["fire_times"], again["created"], again["already_recorded"], again["executions"]) == (
        5,
        0,
        5,
        [],
    )
    overlapping = post(api, "daily", JAN1 + timedelta(days=3), JAN1 + timedelta(days=8) - S).json()
    assert (overlapping["fire_times"], overlapping["created"]) == (5, 3)
    assert recorded("daily") == noons(1, 8)


def test_a_fire_time_the_schedule_recorded_is_not_run_again(api, make_job):
    """Airflow's rule, not Temporal's: a fire time is run once, by the schedule or by a backfill."""
    job = make_job("daily", cron_expression=NOON)
    fired = make_execution(job, Execution.Status.SUCCEEDED, at=noons(2, 2)[0])
    missed = make_execution(
        job, Execution.Status.SKIPPED, at=noons(3, 3)[0], trigger=Execution.Trigger.MISFIRE
    )
    answer = post(api, "daily", JAN1, JAN1 + timedelta(days=4) - S).json()
    assert (answer["created"], answer["already_recorded"]) == (2, 2)
    assert recorded("daily") == noons(1, 4)
    kinds = dict(Execution.objects.values_list("scheduled_fire_time", "trigger"))
    assert [kinds[t] for t in noons(1, 4)] == ["backfill", "schedule", "misfire", "backfill"]
    assert Execution.objects.filter(pk__in=[fired.pk, missed.pk]).count() == 2


def test_manual_triggers_do_not_count_as_fire_times(api, make_job):
    job = make_job("daily", cron_expression=NOON)
    make_execution(job, at=noons(1, 1)[0], trigger=Execution.Trigger.MANUAL)
    assert post(api, "daily", JAN1, JAN1 + timedelta(days=1) - S).json()["created"] == 1


def test_the_database_holds_one_execution_per_job_and_fire_time_whatever_the_trigger(make_job):
    job = make_job("daily", cron_expression=NOON)
    make_execution(job, at=JAN1, trigger=Execution.Trigger.SCHEDULE)
    for trigger in (Execution.Trigger.BACKFILL, Execution.Trigger.SCHEDULE):
        with pytest.raises(IntegrityError), transaction.atomic():
            make_execution(job, at=JAN1, trigger=trigger)
    make_execution(job, at=JAN1 + S, trigger=Execution.Trigger.BACKFILL)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_execution(job, at=JAN1 + S, trigger=Execution.Trigger.BACKFILL)


def test_an_interval_job_with_its_window_and_repeat_count(api, make_job):
    anchor = JAN1 + timedelta(minutes=7)
    make_job("every90", interval=5400, interval_anchor=anchor, repeat_count=3)
    answer = post(api, "every90", JAN1 - timedelta(days=1), JAN1 + timedelta(days=1)).json()
    assert answer["fire_times"] == 4
    assert recorded("every90") == [anchor + timedelta(minutes=90 * k) for k in range(4)]
    make_job("windowed", cron_expression=NOON, start_time=noons(2, 2)[0], end_time=noons(3, 3)[0])
    assert post(api, "windowed", JAN1, JAN1 + timedelta(days=9)).json()["fire_times"] == 2


def test_jittered_fires_are_the_instants_the_scheduler_records(api, make_job):
    make_job("spread", cron_expression=NOON, jitter=3600)
    post(api, "spread", JAN1, JAN1 + timedelta(days=6))
    schedule = Schedule(cron_expression=NOON, jitter=3600, jitter_key="spread")
    expected = [f for f in fires_after(schedule, JAN1 - S) if f <= JAN1 + timedelta(days=6)]
    assert recorded("spread") == expected and len(expected) == 6
    assert any(f.minute or f.second for f in expected)  # delayed, not on the hour


def test_the_times_a_calendar_excludes_are_no_fire_times(api, make_job):
    from django_scheduler_api.calendars import save_calendar

    save_calendar("holidays", {"dates": ["2026-01-02"]})
    make_job("daily", cron_expression=NOON, calendars=["holidays"])
    answer = post(api, "daily", JAN1, JAN1 + timedelta(days=3) - S).json()
    assert answer["fire_times"] == 2 and recorded("daily") == [noons(1, 1)[0], noons(3, 3)[0]]


def test_a_paused_job_is_backfilled(api, make_job):
    make_job("paused", cron_expression=NOON, state=Job.State.PAUSED)
    assert post(api, "paused", JAN1, JAN1 + timedelta(days=2)).json()["created"] == 2
    assert Job.objects.get().state == Job.State.PAUSED


def test_the_job_itself_is_untouched(api, make_job):
    before = Job.objects.filter(pk=make_job("daily", cron_expression=NOON).pk).values().get()
    post(api, "daily", JAN1, JAN1 + timedelta(days=2))
    assert Job.objects.filter(pk="daily").values().get() == before


def test_the_executions_list_filters_by_trigger(api, make_job):
    job = make_job("daily", cron_expression=NOON)
    make_execution(job, at=JAN1 - timedelta(days=1))
    post(api, "daily", JAN1, JAN1 + timedelta(days=2))
    listed = api.get(f"{BASE}/jobs/daily/executions", {"trigger": "backfill"}).json()
    assert [e["trigger"] for e in listed] == ["backfill", "backfill"]
    assert len(api.get(f"{BASE}/executions", {"trigger": "Schedule", "job": "daily"}).json()) == 1
    assert api.get(f"{BASE}/executions", {"trigger": "retry?"}).status_code == 400


# -- sending: through the engine, the outbox behind it ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_executions_are_sent_after_the_commit_and_run(api):
    from tests.factories import make_job

    make_job("daily", cron_expression=NOON)
    answer = post(api, "daily", JAN1, JAN1 + timedelta(days=3) - S).json()
    assert [e["sent"] for e in answer["executions"]] == [True] * 3
    rows = Execution.objects.filter(job_id="daily")
    assert run_tasks() >= 1  # each runs, however late its fire time
    assert {(e.status, e.enqueued_at is not None) for e in rows} == {("succeeded", True)}


def test_executions_left_unsent_are_sent_by_the_outbox_not_dropped_as_misfires(make_job):
    """A crash between commit and send (here: the on-commit send never runs) leaves them to the
    scheduler's outbox; being days late is what a backfill is, not a misfire."""
    make_job("daily", cron_expression=NOON)
    done = backfill.backfill("daily", JAN1, JAN1 + timedelta(days=3) - S)
    assert [e.enqueued_at for e in done.executions] == [None] * 3
    later = timezone.now() + timedelta(seconds=60)
    outbox = store.send_outbox(
        later, grace=timedelta(seconds=10), limit=100, send=dispatch.send, threshold=timedelta(seconds=60)
    )
    assert (outbox.sent, outbox.misfired) == (3, 0)
    run_tasks()
    assert set(Execution.objects.values_list("status", flat=True)) == {"succeeded"}


# -- two at once ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_backfills_record_each_fire_time_once():
    from tests.factories import make_job

    make_job("daily", cron_expression="0 0 * * * ?")  # hourly: 96 fire times in four days
    start, end = JAN1, JAN1 + timedelta(days=4) - S
    barrier = threading.Barrier(2)
    results: list[backfill.Backfill] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(backfill.backfill("daily", start, end))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.created for r in results) == [0, 96]
    assert all(r.fire_times == 96 for r in results)
    times = recorded("daily")
    assert len(times) == len(set(times)) == 96


# -- refusals: 4xx, nothing changes --------------------------------------------------------------

FUTURE_MESSAGE = "end is in the future: a backfill runs past fire times; the schedule fires the others."


def in_a_day() -> str:
    return iso(timezone.now() + timedelta(days=1))


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        (iso(JAN1), iso(JAN1 - S), "end", "end must be after start."),
        (iso(JAN1), iso(JAN1), "end", "end must be after start."),
        (iso(JAN1), in_a_day, "end", FUTURE_MESSAGE),
        (None, iso(JAN1), "start", "This field is required."),
        (iso(JAN1), "tomorrow", "end", "Datetime has wrong format."),
        (iso(JAN1), "2026-W01-1", "end", "Datetime has wrong format."),
    ],
)
def test_a_bad_range_is_a_400_and_changes_nothing(api, make_job, unchanged, start, end, field, message):
    make_job("daily", cron_expression=NOON)
    guard = unchanged()
    body = {"start": start, "end": end() if callable(end) else end}
    response = api.post(f"{BASE}/jobs/daily/backfill", {k: v for k, v in body.items() if v}, format="json")
    assert response.status_code == 400
    assert response.json()[field][0].startswith(message)
    guard.check()


def test_more_fire_times_than_the_limit_is_a_400_saying_how_many(api, make_job, unchanged, settings):
    settings.SCHEDULER_API = {**settings.SCHEDULER_API, "BACKFILL_LIMIT": 3}
    make_job("daily", cron_expression=NOON)
    make_job("often", cron_expression="* * * * * ?")
    guard = unchanged()
    response = post(api, "daily", JAN1, JAN1 + timedelta(days=5))
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The range holds 5 fire times; BACKFILL_LIMIT allows 3 per backfill. "
        "Backfill a shorter range."
    }
    over = post(api, "often", JAN1 - timedelta(days=365), JAN1).json()["detail"]
    assert over.startswith("The range holds more than 10,003 fire times; BACKFILL_LIMIT allows 3 ")
    guard.check()
    assert post(api, "daily", JAN1, JAN1 + timedelta(days=3)).json()["created"] == 3  # at the limit


def test_the_default_limit_is_1000(api, make_job, unchanged):
    make_job("minutely", cron_expression="0 * * * * ?")
    guard = unchanged()
    response = post(api, "minutely", JAN1, JAN1 + timedelta(minutes=1000))
    assert response.json()["detail"].startswith(
        "The range holds 1,001 fire times; BACKFILL_LIMIT allows 1,000 "
    )
    guard.check()


def test_a_one_shot_job_has_nothing_to_backfill(api, make_job, unchanged):
    make_job("once", start_time=JAN1)
    guard = unchanged()
    response = post(api, "once", JAN1 - timedelta(days=1), JAN1 + timedelta(days=1))
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The job has neither cron_expression nor interval")
    guard.check()


@pytest.mark.parametrize(
    ("path", "body", "status", "answer"),
    [
        (
            "jobs/ghost/backfill",
            {"start": iso(JAN1), "end": iso(JAN1 + S)},
            404,
            {"detail": "No job with id 'ghost'."},
        ),
        ("jobs/bad%20id/backfill", {"start": iso(JAN1), "end": iso(JAN1 + S)}, 400, None),
        ("jobs/daily/backfill?ids=daily", {"start": iso(JAN1), "end": iso(JAN1 + S)}, 400, None),
        ("jobs/daily/backfill", [iso(JAN1)], 400, {"detail": "The body must be a JSON object, not list."}),
        (
            "jobs/daily/backfill",
            {"start": iso(JAN1), "end": iso(JAN1 + S), "dry_run": True},
            400,
            {"dry_run": ["Unknown field. Fields: start, end."]},
        ),
    ],
)
def test_other_refusals_change_nothing(api, make_job, unchanged, path, body, status, answer):
    make_job("daily", cron_expression=NOON)
    guard = unchanged()
    response = api.post(f"{BASE}/{path}", body, format="json")
    assert response.status_code == status
    if answer is not None:
        assert response.json() == answer
    guard.check()


def test_the_schema_documents_backfill(api, db):
    schema = api.get(f"{BASE}/schema", {"format": "json"}).json()
    operation = schema["paths"]["/scheduler/jobs/{id}/backfill"]["post"]
    assert set(operation["responses"]) == {"200", "400", "403", "404", "406", "413", "415"}
    components = schema["components"]["schemas"]
    assert set(components["BackfillRequest"]["required"]) == {"start", "end"}
    assert set(components["Backfilled"]["required"]) == {
        "job", "start", "end", "fire_times", "created", "already_recorded", "executions", "executions_url",
    }  # fmt: skip
    assert "backfill" in components["ExecutionTriggerEnum"]["enum"]


# -- the CLI -----------------------------------------------------------------------------------------


def test_the_cli_backfills_and_answers_the_api_json(api, make_job):
    make_job("daily", cron_expression=NOON)
    args = ["backfill", "daily", "--start", iso(JAN1), "--end", iso(JAN1 + timedelta(days=3) - S)]
    text = scheduler(*args)
    assert text.splitlines()[0].split() == ["EXECUTION", "SCHEDULED", "(UTC)"]
    assert "2026-01-03 12:00:00" in text
    assert text.rstrip().endswith(
        "Backfilled job daily from 2026-01-01 00:00:00 to 2026-01-03 23:59:59 UTC: 3 fire time(s), "
        "3 execution(s) created, 0 had one already. 3 not sent yet: a scheduler sends them from its outbox."
    )
    again = json.loads(scheduler(*args, "--json", "--base-url", "http://testserver"))
    from_api = post(api, "daily", JAN1, JAN1 + timedelta(days=3) - S).json()
    assert again == from_api == {**from_api, "created": 0, "already_recorded": 3, "executions": []}
    assert len(recorded("daily")) == 3


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (iso(JAN1), iso(JAN1)),
        (iso(JAN1), "2999-01-01T00:00:00Z"),
        (iso(JAN1), "soon"),
        (iso(JAN1 - timedelta(days=2000)), iso(JAN1)),
    ],
)
def test_the_cli_refuses_with_the_api_words_and_changes_nothing(api, make_job, unchanged, start, end):
    make_job("daily", cron_expression=NOON)
    guard = unchanged()
    with pytest.raises(CommandError) as refused:
        scheduler("backfill", "daily", "--start", start, "--end", end)
    answer = api.post(f"{BASE}/jobs/daily/backfill", {"start": start, "end": end}, format="json").json()
    assert str(refused.value) == (answer["detail"] if "detail" in answer else error_message(answer))
    guard.check()


def test_the_cli_refuses_an_unknown_job(db):
    with pytest.raises(CommandError, match=r"^No job with id 'ghost'\.$"):
        scheduler("backfill", "ghost", "--start", iso(JAN1), "--end", iso(JAN1 + S))


def test_a_refused_cli_backfill_exits_1_with_the_message_on_stderr(transactional_db):
    from tests.factories import make_job

    make_job("daily", cron_expression=NOON)
    command = [sys.executable, "-m", "django", "scheduler", "backfill", "daily", "--start", iso(JAN1)]
    result = subprocess.run(
        [*command, "--end", iso(JAN1 - S)], env=child_env(), cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "CommandError: end: end must be after start." in result.stderr
    assert not Execution.objects.exists()
