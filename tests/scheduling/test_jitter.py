"""Jitter (docs/scheduling.rst, "Jitter"): each fire delayed by a fixed pseudo-random amount per job
and fire time, the same in every process; the same field and messages in every front end."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from django.urls import reverse

from django_scheduler_api import services
from django_scheduler_api.declared import sync_declared_jobs
from django_scheduler_api.models import Job
from django_scheduler_api.planning import Schedule, jitter_delay, next_fire_time, plan_due_job
from tests.admin.conftest import form_data
from tests.api.conftest import BASE
from tests.scheduling.test_intervals import fires
from tests.support import ROOT, child_env, scheduler

T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
S = timedelta(seconds=1)
EVERY_MINUTE = "0 * * * * ?"


def test_each_fire_is_delayed_within_the_jitter_by_whole_milliseconds():
    schedule = Schedule(EVERY_MINUTE, jitter=20, jitter_key="reports.daily")
    delayed = fires(schedule, T0 - S, 50)
    nominal = [T0 + timedelta(minutes=m) for m in range(50)]
    delays = [d - n for d, n in zip(delayed, nominal, strict=True)]
    assert all(timedelta(0) <= d <= 20 * S for d in delays)
    assert all(d.microseconds % 1000 == 0 for d in delays)
    assert len(set(delays)) > 40  # spread, not one shift for every fire


def test_the_delay_depends_on_the_job_and_the_fire_only():
    one = Schedule(EVERY_MINUTE, jitter=30, jitter_key="a")
    assert fires(one, T0, 5) == fires(Schedule(EVERY_MINUTE, jitter=30, jitter_key="a"), T0, 5)
    assert fires(one, T0, 5) != fires(Schedule(EVERY_MINUTE, jitter=30, jitter_key="b"), T0, 5)


def test_the_delay_is_the_same_in_another_interpreter():
    """Not Python's randomised ``hash()``: a second process (another scheduler) computes the same."""
    code = (
        "import django\ndjango.setup()\nfrom datetime import datetime, UTC\n"
        "from django_scheduler_api.planning import Schedule, jitter_delay\n"
        f"schedule = Schedule({EVERY_MINUTE!r}, jitter=30, jitter_key='a')\n"
        "print(jitter_delay(schedule, datetime(2026, 3, 2, 10, tzinfo=UTC)))"
    )
    env = child_env(PYTHONHASHSEED="random")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(jitter_delay(Schedule(EVERY_MINUTE, jitter=30, jitter_key="a"), T0))


def test_a_delay_never_reaches_the_next_fire_so_fires_keep_their_order():
    schedule = Schedule("* * * * * ?", jitter=3600, jitter_key="x")
    delayed = fires(schedule, T0 - S, 30)
    assert [d.replace(microsecond=0) for d in delayed] == [T0 + k * S for k in range(30)]
    assert all(a < b for a, b in pairwise(delayed))


def test_an_interval_with_jitter_keeps_every_fire():
    schedule = Schedule(interval=10, interval_anchor=T0, jitter=9, jitter_key="i")
    assert [
        f.replace(microsecond=0) - timedelta(seconds=f.second % 10) for f in fires(schedule, T0 - S, 6)
    ] == [T0 + 10 * k * S for k in range(6)]


def test_planning_a_due_jittered_fire_moves_to_the_next_delayed_one():
    schedule = Schedule(EVERY_MINUTE, jitter=20, jitter_key="p")
    first, second = fires(schedule, T0 - S, 2)
    plan = plan_due_job(schedule, first, first, misfire_policy="do_nothing", threshold=timedelta(seconds=60))
    assert [f.scheduled for f in plan.fires] == [first]
    assert plan.next_fire_time == second


def test_the_delays_are_pinned_so_every_scheduler_version_computes_the_same_instants():
    """The delay is the fire's time everywhere (the exactly-once key): a change to how it is derived
    (docs/scheduling.rst: the first 8 bytes of a SHA-256 of the job's id and the fire's time) would
    move every jittered job's fires when schedulers of two versions run side by side."""
    nightly = Schedule("0 0 0 * * ?", jitter=900, jitter_key="reports.agent-7")
    midnights = [datetime(2026, 3, d, tzinfo=UTC) for d in (2, 3, 4)]
    assert [jitter_delay(nightly, m) for m in midnights] == [
        timedelta(seconds=542, milliseconds=225),
        timedelta(seconds=355, milliseconds=74),
        timedelta(seconds=463, milliseconds=893),
    ]
    # Bounded by the next second, not by the jitter: the modulus is the gap in milliseconds.
    every_second = Schedule("* * * * * ?", jitter=3600, jitter_key="x")
    assert [jitter_delay(every_second, T0 + k * S) for k in range(3)] == [
        timedelta(milliseconds=901),
        timedelta(milliseconds=517),
        timedelta(milliseconds=616),
    ]


def test_a_delay_stays_below_the_next_fire_and_within_the_jitter_to_the_millisecond():
    every_second = Schedule("* * * * * ?", jitter=3600, jitter_key="x")
    assert max(jitter_delay(every_second, T0 + k * S) for k in range(1000)) < S
    one_second = Schedule(EVERY_MINUTE, jitter=1, jitter_key="x")
    assert max(jitter_delay(one_second, T0 + timedelta(minutes=k)) for k in range(1000)) <= S


def test_a_schedule_without_jitter_is_on_time():
    assert jitter_delay(Schedule(EVERY_MINUTE), T0) == timedelta(0)
    assert next_fire_time(Schedule(EVERY_MINUTE), T0 - S) == T0


def test_a_one_shot_job_is_delayed_within_its_jitter():
    """No next time bounds the delay of a one-shot's only fire: the jitter does."""
    once = Schedule(start_time=T0, jitter=30, jitter_key="once")
    assert next_fire_time(once, T0 - timedelta(hours=1)) == T0 + timedelta(seconds=25, milliseconds=397)


def test_a_jittered_job_past_its_end_time_has_no_next_fire():
    ended = Schedule(EVERY_MINUTE, end_time=T0, jitter=20, jitter_key="j")
    assert next_fire_time(ended, T0) is None
    fired_once = Schedule(start_time=T0, jitter=20, jitter_key="j")
    assert next_fire_time(fired_once, T0, previous_fire_time=T0) is None


def test_the_delay_does_not_depend_on_the_machine_s_zone(machine_zone):
    """Two schedulers on servers set to different zones delay a fire alike (the fire's instant is
    hashed in UTC)."""
    schedule = Schedule(EVERY_MINUTE, jitter=30, jitter_key="a")
    in_utc = jitter_delay(schedule, T0)
    machine_zone("Asia/Kolkata")
    assert jitter_delay(schedule, T0) == in_utc


# -- front ends ----------------------------------------------------------------------------------


def test_the_api_takes_jitter_and_the_next_fire_is_delayed(api, db):
    body = {"handler": "tests.echo", "cron_expression": EVERY_MINUTE, "jitter": 30}
    job = api.post(f"{BASE}/jobs/spread", body, format="json").json()
    assert job["jitter"] == 30
    stored = Job.objects.get()
    nominal = stored.next_fire_time.replace(microsecond=0, second=0)
    assert stored.next_fire_time - nominal == jitter_delay(Schedule.of(stored), nominal)
    assert api.post(f"{BASE}/jobs/plain", {"handler": "tests.echo"}, format="json").json()["jitter"] == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [(-1, "Ensure this value is greater than or equal to 0."),
     (2**31, "Ensure this value is less than or equal to 2147483647."),
     ("soon", "A valid integer is required.")],
)  # fmt: skip
def test_bad_jitter_is_refused_alike_everywhere(
    api, admin_client, settings, make_job, unchanged, value, message
):
    make_job("kept", cron_expression=EVERY_MINUTE)
    guard = unchanged()
    response = api.patch(f"{BASE}/jobs/kept", {"jitter": value}, format="json")
    assert response.status_code == 400 and response.json()["jitter"] == [message]
    admin = admin_client.post(
        reverse("admin:django_scheduler_api_job_add"), form_data(id="new", jitter=str(value))
    )
    assert admin.context["adminform"].form.errors["jitter"] == [
        "Enter a whole number." if isinstance(value, str) else message
    ]
    settings.SCHEDULER_API = {
        **settings.SCHEDULER_API,
        "JOBS": [{"id": "decl", "handler": "tests.echo", "jitter": value}],
    }
    assert message in sync_declared_jobs().invalid["decl"]
    guard.check()


def test_the_admin_and_the_cli_show_the_delayed_fires(admin_client, db):
    services.save_job("spread", {"handler": "tests.echo", "cron_expression": EVERY_MINUTE, "jitter": 30})
    job = Job.objects.get()
    first = services.upcoming_fire_times(job, 1)[0]
    assert first == job.next_fire_time
    page = admin_client.get(
        reverse("admin:django_scheduler_api_job_change", args=["spread"])
    ).content.decode()
    assert first.strftime("%Y-%m-%d %H:%M:%S UTC") in page


def test_the_preview_shows_a_job_s_jittered_fires_as_the_scheduler_plans_them(api, db):
    services.save_job("spread", {"handler": "tests.echo", "cron_expression": EVERY_MINUTE, "jitter": 30})
    job = Job.objects.get()
    query = {"cron_expression": EVERY_MINUTE, "jitter": 30, "job": "spread", "count": 3}
    after = (job.next_fire_time - timedelta(minutes=1)).replace(second=59, microsecond=0)
    answer = api.get(f"{BASE}/preview", {**query, "after": after.isoformat()}).json()
    assert answer["jitter"] == 30 and answer["job"] == "spread"
    expected = services.upcoming_fire_times(job, 3)
    assert answer["fire_times"] == [t.isoformat().replace("+00:00", "Z") for t in expected]
    plain = api.get(f"{BASE}/preview", {"cron_expression": EVERY_MINUTE, "after": after.isoformat()})
    assert plain.json()["jitter"] == 0
    nominal = [datetime.fromisoformat(t) for t in plain.json()["fire_times"][:3]]
    schedule = Schedule(EVERY_MINUTE, jitter=30, jitter_key="spread")
    # each jittered fire is its nominal time plus the job's delay for that time (compared as
    # instants: as strings "...:00Z" sorts after "...:00.330000Z")
    assert expected == [n + jitter_delay(schedule, n) for n in nominal]
    cli = scheduler(
        "preview", EVERY_MINUTE, "--jitter", "30", "--job", "spread", "--after", after.isoformat()
    )
    assert "jitter up to 30 s for spread" in cli
    assert expected[0].strftime("%Y-%m-%d %H:%M:%S") in cli


def test_a_preview_with_jitter_but_no_job_is_refused_and_changes_nothing(api, make_job, unchanged):
    make_job("kept", cron_expression=EVERY_MINUTE)
    guard = unchanged()
    answer = api.get(f"{BASE}/preview", {"cron_expression": EVERY_MINUTE, "jitter": 5})
    assert answer.status_code == 400
    assert answer.json()["job"] == ["jitter needs job: each job's delays are derived from its id."]
    guard.check()
