"""Fire planning (pure): catch-up within the misfire threshold, both misfire policies, windows, overlap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from django_scheduler_api.models import Execution, Job
from django_scheduler_api.planning import (
    MAX_FIRES_PER_CLAIM,
    Fire,
    Occupancy,
    Schedule,
    apply_overlap,
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


def test_fire_and_proceed_misfire_fires_once_now_then_follows_the_schedule():
    now = T0 + timedelta(minutes=10, seconds=30)
    result = plan(EVERY_MINUTE, T0, now, FIRE_AND_PROCEED)
    assert result.fires == (Fire(T0, MISFIRE),)  # one fire, not one per missed minute
    assert result.next_fire_time == T0 + timedelta(minutes=11)


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
