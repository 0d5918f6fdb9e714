"""Fire planning (pure): catch-up within the misfire threshold, both misfire policies, windows, overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from types import SimpleNamespace

import pytest

from django_scheduler_api.models import Execution, Job
from django_scheduler_api.planning import (
    MAX_FIRES_PER_CLAIM,
    CalendarRules,
    Fire,
    Occupancy,
    Schedule,
    apply_overlap,
    describe_schedule,
    fires_after,
    next_fire_time,
    plan_due_job,
)

T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
THRESHOLD = timedelta(seconds=60)
EVERY_MINUTE = Schedule("0 * * * * ?")
EVERY_SECOND = Schedule("* * * * * ?")
SCHEDULE, MISFIRE = Execution.Trigger.SCHEDULE, Execution.Trigger.MISFIRE
FIRE_AND_PROCEED = Job.MisfirePolicy.FIRE_AND_PROCEED


def plan(schedule, due, now, policy="do_nothing", previous=None):
    return plan_due_job(
        schedule, due, now, misfire_policy=policy, threshold=THRESHOLD, previous_fire_time=previous
    )


def test_on_time_fires_once_and_moves_to_the_next_cron_time():
    result = plan(EVERY_MINUTE, T0, T0 + timedelta(milliseconds=3))
    assert result.fires == (Fire(T0, SCHEDULE),)
    assert result.next_fire_time == T0 + MINUTE
    assert result.previous_fire_time == T0


@pytest.mark.parametrize("policy", ["do_nothing", "fire_and_proceed"])
def test_late_within_the_threshold_catches_up_every_missed_fire(policy):
    result = plan(EVERY_SECOND, T0, T0 + timedelta(seconds=5.5), policy)
    assert [f.scheduled for f in result.fires] == [T0 + timedelta(seconds=s) for s in range(6)]
    assert {f.trigger for f in result.fires} == {SCHEDULE}
    assert result.next_fire_time == T0 + timedelta(seconds=6)
    assert result.previous_fire_time == T0 + timedelta(seconds=5)


def test_exactly_at_the_threshold_is_not_a_misfire():
    result = plan(EVERY_MINUTE, T0, T0 + THRESHOLD)
    assert [f.trigger for f in result.fires] == [SCHEDULE, SCHEDULE]


def test_do_nothing_misfire_skips_every_missed_fire_and_waits_for_the_next_regular_one():
    now = T0 + timedelta(minutes=10, seconds=30)
    result = plan(EVERY_MINUTE, T0, now, previous=T0 - MINUTE)
    assert result.fires == ()
    assert result.next_fire_time == T0 + timedelta(minutes=11)
    assert result.previous_fire_time == T0 - MINUTE
    assert result.dropped_misfire == T0  # what the scheduler logs: the first missed fire


def test_fire_and_proceed_misfire_fires_once_now_then_follows_the_schedule():
    now = T0 + timedelta(minutes=10, seconds=30)
    result = plan(EVERY_MINUTE, T0, now, FIRE_AND_PROCEED)
    assert result.fires == (Fire(T0, MISFIRE),)  # one fire, not one per missed minute
    assert result.next_fire_time == T0 + timedelta(minutes=11)
    # The job's previous fire is the one that ran (the API's previous_fire_time, a one-shot's "fired").
    assert result.previous_fire_time == T0
    assert result.dropped_misfire is None


def test_a_misfired_one_shot_job_still_fires_once_under_either_policy():
    for policy in ("do_nothing", "fire_and_proceed"):
        result = plan(Schedule(""), T0, T0 + timedelta(hours=2), policy)
        assert result.fires == (Fire(T0, MISFIRE),)
        assert result.next_fire_time is None


def test_a_one_shot_job_fires_once_then_has_no_next_fire():
    result = plan(Schedule(""), T0, T0)
    assert result.fires == (Fire(T0),)
    assert result.next_fire_time is None


def test_the_end_time_stops_catch_up_and_leaves_no_next_fire():
    schedule = Schedule("* * * * * ?", end_time=T0 + timedelta(seconds=2))
    result = plan(schedule, T0, T0 + timedelta(seconds=10))
    assert [f.scheduled for f in result.fires] == [T0 + timedelta(seconds=s) for s in range(3)]
    assert result.next_fire_time is None


def test_a_misfire_after_the_end_time_proceeds_to_nothing():
    schedule = Schedule("0 * * * * ?", end_time=T0 + MINUTE)
    result = plan(schedule, T0, T0 + timedelta(hours=1), FIRE_AND_PROCEED)
    assert result.fires == (Fire(T0, MISFIRE),)
    assert result.next_fire_time is None
    assert plan(schedule, T0, T0 + timedelta(hours=1)).next_fire_time is None


def test_the_start_time_and_zone_shape_the_next_fire():
    schedule = Schedule("0 0 9 * * ?", "Europe/Berlin", start_time=T0 + timedelta(days=3))
    # 09:00 CET on the first day after start_time.
    assert next_fire_time(schedule, T0) == datetime(2026, 3, 6, 8, 0, tzinfo=UTC)


def test_catch_up_is_bounded_per_claim_and_continues_where_it_stopped():
    big = timedelta(seconds=MAX_FIRES_PER_CLAIM + 10)
    result = plan_due_job(
        EVERY_SECOND, T0, T0 + big, misfire_policy="do_nothing", threshold=big, previous_fire_time=None
    )
    assert len(result.fires) == MAX_FIRES_PER_CLAIM
    assert result.next_fire_time == T0 + timedelta(seconds=MAX_FIRES_PER_CLAIM)


def test_overlap_skip_keeps_the_first_fire_of_an_idle_job_and_skips_the_rest():
    fires = (Fire(T0), Fire(T0 + MINUTE))
    idle, busy = Occupancy(), Occupancy(pending=1)
    assert [f.skipped for f in apply_overlap(fires, policy="skip", max_concurrent=None, occupancy=idle)] == [
        False,
        True,
    ]
    assert [f.skipped for f in apply_overlap(fires, policy="skip", max_concurrent=None, occupancy=busy)] == [
        True,
        True,
    ]
    assert apply_overlap(fires, policy="allow", max_concurrent=None, occupancy=busy) == fires


@pytest.mark.parametrize(
    ("policy", "occupancy", "outcome"),
    [("buffer_one", Occupancy(pending=1), "waiting"), ("skip", Occupancy(pending=1), "skipped"),
     ("buffer_one", Occupancy(pending=1, waiting=1), "skipped")],
)  # fmt: skip
def test_a_misfire_that_overlap_keeps_waiting_or_skips_is_still_a_misfire(policy, occupancy, outcome):
    """The history shows a misfire as one, whatever the overlap policy then did with it."""
    late = plan(EVERY_MINUTE, T0, T0 + timedelta(minutes=10), FIRE_AND_PROCEED)
    (fire,) = apply_overlap(late.fires, policy=policy, max_concurrent=None, occupancy=occupancy)
    assert (fire.scheduled, fire.trigger) == (T0, MISFIRE)
    assert (fire.waiting, fire.skipped) == (outcome == "waiting", outcome == "skipped")


# -- windows and one-shot jobs ------------------------------------------------------------------------


def test_a_cron_time_at_start_time_is_the_first_fire_and_fires_once():
    schedule = Schedule("0 * * * * ?", start_time=T0 + 5 * MINUTE)
    assert next_fire_time(schedule, T0) == T0 + 5 * MINUTE
    # Planned at that instant, the next fire is strictly later (not the start again).
    assert next_fire_time(schedule, T0 + 5 * MINUTE) == T0 + 6 * MINUTE
    result = plan(schedule, T0 + 5 * MINUTE, T0 + 5 * MINUTE + timedelta(seconds=1))
    assert result.fires == (Fire(T0 + 5 * MINUTE),)
    assert result.next_fire_time == T0 + 6 * MINUTE


def test_a_start_time_inside_a_second_fires_first_at_the_next_whole_second():
    """A job created "now" (microseconds and all) never fires before its start."""
    start = T0 + timedelta(milliseconds=500)
    assert next_fire_time(Schedule("* * * * * ?", start_time=start), T0 - MINUTE) == T0 + timedelta(seconds=1)
    ends = Schedule("* * * * * ?", start_time=start, end_time=T0)
    assert next_fire_time(ends, T0 - MINUTE) is None


def test_a_one_shot_job_fires_at_its_start_time_or_at_once():
    assert next_fire_time(Schedule(""), T0) == T0  # no start_time: at once
    assert next_fire_time(Schedule("", start_time=T0 - MINUTE), T0) == T0  # a past start_time: at once
    assert next_fire_time(Schedule("", start_time=T0 + MINUTE), T0) == T0 + MINUTE
    assert next_fire_time(Schedule(""), T0, previous_fire_time=T0 - MINUTE) is None  # it has fired


def test_a_one_shot_job_s_upcoming_fires_are_its_one_instant():
    """What the admin's next five fires, the CLI and the preview list (``fires_after``)."""
    assert list(islice(fires_after(Schedule("", start_time=T0 + MINUTE), T0), 5)) == [T0 + MINUTE]
    assert list(islice(fires_after(Schedule(""), T0), 5)) == [T0]
    assert list(islice(fires_after(Schedule(""), T0, previous_fire_time=T0 - MINUTE), 5)) == []
    every_minute = list(islice(fires_after(EVERY_MINUTE, T0 + timedelta(seconds=1)), 3))
    assert every_minute == [T0 + MINUTE, T0 + 2 * MINUTE, T0 + 3 * MINUTE]


def test_fire_times_are_utc_whatever_the_machine_s_zone(machine_zone):
    machine_zone("Asia/Kolkata")
    for schedule in (Schedule("0 0 9 * * ?", "Europe/Berlin"), Schedule(interval=90), Schedule("")):
        fire = next_fire_time(schedule, T0)
        assert fire.tzinfo is UTC, schedule


# -- the schedule of a job ----------------------------------------------------------------------------


def test_the_schedule_of_a_job_reads_every_schedule_field():
    rules = {"holidays": CalendarRules("holidays"), "other": CalendarRules("other")}
    job = Job(
        id="reports.daily",
        cron_expression="0 0 9 * * ?",
        timezone="Europe/Berlin",
        start_time=T0,
        end_time=T0 + timedelta(days=30),
        interval=None,
        interval_anchor=T0 - MINUTE,
        repeat_count=4,
        jitter=20,
        calendars=["holidays", "missing"],
    )
    assert Schedule.of(job, rules) == Schedule(
        "0 0 9 * * ?",
        "Europe/Berlin",
        start_time=T0,
        end_time=T0 + timedelta(days=30),
        interval_anchor=T0 - MINUTE,
        repeat_count=4,
        jitter=20,
        jitter_key="reports.daily",
        calendars=(rules["holidays"],),  # a calendar deleted since is no exclusion
    )
    job.interval, job.cron_expression = 600, ""
    assert Schedule.of(job, rules).interval == 600


def test_the_schedule_of_a_bare_object_has_the_defaults():
    """Anything with the four basic fields (a declared job, a form's data) has a schedule."""
    bare = SimpleNamespace(cron_expression=None, timezone=None, start_time=None, end_time=None)
    assert Schedule.of(bare) == Schedule()
    anonymous = SimpleNamespace(**vars(bare), jitter=5, calendars=None, interval=0)
    assert Schedule.of(anonymous) == Schedule(jitter=5)


def test_a_job_that_names_calendars_needs_their_rules():
    with pytest.raises(ValueError) as named:
        Schedule.of(Job(id="reports.daily", calendars=["holidays"]))
    assert str(named.value) == "The schedule of job 'reports.daily' needs its calendars' rules."
    anonymous = SimpleNamespace(cron_expression="", timezone="UTC", start_time=None, end_time=None)
    anonymous.calendars = ["holidays"]
    with pytest.raises(ValueError) as unnamed:
        Schedule.of(anonymous)
    assert str(unnamed.value) == "The schedule of job '?' needs its calendars' rules."


def test_jobs_without_jitter_share_one_plan_and_jittered_ones_do_not():
    """10,000 tenants' jobs at midnight are planned once (``plan_due_job``'s cache), unless each has
    a jitter, which makes their fire times differ."""
    tenants = [Job(id=f"tenant-{n}", cron_expression="0 0 0 * * ?") for n in range(3)]
    schedules = {Schedule.of(job) for job in tenants}
    assert len(schedules) == 1
    plans = {id(plan(Schedule.of(job), T0, T0)) for job in tenants}
    assert len(plans) == 1
    for job in tenants:
        job.jitter = 60
    assert len({Schedule.of(job) for job in tenants}) == 3


def test_a_schedule_in_words():
    assert describe_schedule("", None) == "Once"
    assert describe_schedule("", None, once="At start_time") == "At start_time"
    assert describe_schedule("0 0 9 * * ?", 5400) == "Every 90 minutes"
    assert describe_schedule("0 0 9 * * ?", None) == "At 09:00 AM"
    # a stored expression a stricter engine refuses: its error, not a failing page
    assert describe_schedule("0 0 9 * * ? 1960", None) == "Invalid: year: 1960 is out of range 1970-2099"
