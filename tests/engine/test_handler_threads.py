"""The worker's handler threads: starting together, recording, being stopped, warming up."""

from __future__ import annotations

import gc
import threading

import pytest
from django.test import override_settings

from django_scheduler_api.engine import handler_threads


def test_every_item_runs_on_its_own_thread_and_every_outcome_is_recorded_once():
    meeting = threading.Barrier(4)
    recorded: list[tuple[int, str]] = []

    def call(item: int) -> str:
        meeting.wait(20)  # only if all four run at once
        return threading.current_thread().name

    handler_threads.run_together([1, 2, 3, 4], call, recorded.extend, lambda exc: "stopped")
    assert sorted(item for item, _ in recorded) == [1, 2, 3, 4]
    assert len({thread for _, thread in recorded}) == 4
    assert all(thread.startswith("scheduler-handler") for _, thread in recorded)


def test_items_still_running_when_the_task_is_stopped_are_recorded_as_stopped():
    """django-q2's timeout raises in the task's thread; what still runs is recorded, then it goes on."""
    release = threading.Event()
    batches: list[list[tuple[str, str]]] = []

    def call(item: str) -> str:
        if item == "slow":
            release.wait(20)
        return "done"

    def record(done: list[tuple[str, str]]) -> None:
        batches.append(done)
        if len(batches) == 1:
            raise TimeoutError("task timed out")

    try:
        with pytest.raises(TimeoutError):
            handler_threads.run_together(["quick", "slow"], call, record, lambda exc: f"stopped: {exc}")
    finally:
        release.set()
    assert batches[0] == [("quick", "done")]
    assert batches[1] == [("slow", "stopped: task timed out")]


@override_settings(SCHEDULER_API={"TASK_BATCH_SIZE": 6})
def test_warm_up_starts_the_threads_and_settles_the_garbage_collector():
    try:
        handler_threads.warm_up(sender="django_q", proc_name="test")
        names = [t.name for t in threading.enumerate() if t.name.startswith("scheduler-handler")]
        assert len(names) >= 6
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@override_settings(SCHEDULER_API={"TASK_BATCH_SIZE": 2})
def test_a_task_larger_than_the_pool_gets_a_larger_pool():
    handler_threads.threads(2)
    meeting = threading.Barrier(5)
    recorded: list[tuple[int, bool]] = []
    handler_threads.run_together(list(range(5)), lambda i: meeting.wait(20) >= 0, recorded.extend, str)
    assert sorted(recorded) == [(i, True) for i in range(5)]
