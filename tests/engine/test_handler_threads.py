"""The worker's handler threads: starting together, recording, being stopped, warming up."""

from __future__ import annotations

import gc
import threading
import time

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


def test_warm_up_is_lazy_and_only_in_a_worker_process_of_its_own():
    """Nothing at start-up (no post_spawn receiver), and nothing in the process that sends a task,
    where django-q2's sync mode runs it."""
    from django_q.signals import post_spawn

    assert not [r for r in post_spawn.receivers if "django_scheduler_api" in str(r)]
    before = {t.name for t in threading.enumerate()}
    # Compared with the count before: CPython 3.12 starts with objects in the permanent generation.
    frozen = gc.get_freeze_count()
    handler_threads.warm_up()
    assert gc.get_freeze_count() == frozen
    assert not {t.name for t in threading.enumerate()} - before


def warm_up_in_a_child(queue) -> None:
    """In a child process: warm up twice; report the threads started and whether the heap froze."""
    from django_scheduler_api.engine import handler_threads

    frozen = gc.get_freeze_count()
    handler_threads.warm_up()
    handler_threads.warm_up()
    names = [t.name for t in threading.enumerate() if t.name.startswith("scheduler-handler")]
    queue.put((len(names), gc.get_freeze_count() > frozen))


@override_settings(SCHEDULER_API={"TASK_BATCH_SIZE": 6})
def test_warm_up_in_a_worker_process_starts_the_threads_once_and_freezes_the_heap():
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=warm_up_in_a_child, args=(queue,))
    child.start()
    threads, frozen = queue.get(timeout=60)
    child.join(60)
    assert (threads, frozen) == (6, True)


@override_settings(SCHEDULER_API={"TASK_BATCH_SIZE": 2})
def test_a_task_larger_than_the_pool_runs_the_rest_as_threads_free_up():
    """A crowd's task (``dispatch.task_size``): never more than ``TASK_BATCH_SIZE`` handlers at
    once, every one run and recorded once."""
    running, most, lock = 0, 0, threading.Lock()

    def call(item: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return item * 10

    recorded: list[tuple[int, int]] = []
    handler_threads.run_together(list(range(9)), call, recorded.extend, str)
    assert sorted(recorded) == [(i, i * 10) for i in range(9)]
    assert most <= 2 and len(handler_threads.threads()._threads) == 2


def test_handlers_that_end_within_one_interval_share_one_write(monkeypatch):
    """The write comes as soon as every handler is done, however long the interval."""
    monkeypatch.setattr(handler_threads, "RECORD_INTERVAL", 60)
    writes: list[list[tuple[int, int]]] = []
    handler_threads.run_together([1, 2, 3, 4], lambda i: i * 10, writes.append, str)
    assert [sorted(write) for write in writes] == [[(1, 10), (2, 20), (3, 30), (4, 40)]]


def test_a_slow_handler_holds_back_no_other_outcome():
    """The quick handlers' outcomes are written while the slow one still runs: only their writes
    release it."""
    release = threading.Event()
    writes: list[list[tuple[str, str]]] = []

    def call(item: str) -> str:
        if item == "slow":
            return "slow" if release.wait(60) else "never released"
        return item

    def record(done: list[tuple[str, str]]) -> None:
        writes.append(sorted(done))
        if {item for write in writes for item, _ in write} == {"a", "b", "c"}:
            release.set()

    handler_threads.run_together(["a", "b", "c", "slow"], call, record, str)
    assert writes[-1] == [("slow", "slow")]
    assert sorted(pair for write in writes[:-1] for pair in write) == [("a", "a"), ("b", "b"), ("c", "c")]
