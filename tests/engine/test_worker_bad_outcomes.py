"""Handler outcomes no database can store, and handlers that end with a BaseException (issue 11,
items 11, 15, 16): each execution ends ``failed`` at once with a clear error, and the worker lives on.

A handler that kills its worker process (``os._exit``) is the fault-tolerance suite's: no code in the
process survives it.
"""

from __future__ import annotations

import pytest

from django_scheduler_api.engine.dispatch import enqueue
from django_scheduler_api.engine.worker import run_execution, run_executions
from django_scheduler_api.models import Execution
from tests.engine.test_worker import finished
from tests.factories import make_execution
from tests.support import wait_for
from tests.testapp.handlers import BAD_RESULTS


@pytest.mark.django_db
@pytest.mark.parametrize("kind", sorted(BAD_RESULTS))
def test_an_unstorable_result_is_a_failed_execution(kind):
    execution = make_execution(handler="tests.unstorable", data={"kind": kind})
    assert run_execution(str(execution.id)) == Execution.Status.FAILED
    execution = finished(execution)
    assert execution.status == Execution.Status.FAILED
    assert "not JSON-serialisable" in execution.error
    assert execution.result is None and execution.finished_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "message"),
    [("keyboard", "KeyboardInterrupt"), ("base", "Halt: halted"), ("message", "RuntimeError: bad \ufffd")],
    ids=["keyboard", "base", "message"],  # plain ids: pytest-xdist's workers report them alike
)
def test_a_handler_ending_with_any_base_exception_is_a_failed_execution(kind, message):
    execution = make_execution(handler="tests.raise_base", data={"kind": kind})
    assert run_execution(str(execution.id)) == Execution.Status.FAILED
    execution = finished(execution)
    assert execution.status == Execution.Status.FAILED
    assert execution.error.startswith(message)
    assert execution.traceback


@pytest.mark.django_db
def test_in_a_task_of_several_each_base_exception_is_recorded_on_its_own_row():
    executions = [
        make_execution(handler="tests.raise_base", data={"kind": "keyboard"}),
        make_execution(handler="tests.raise_base", data={"kind": "base"}),
        make_execution(handler="tests.unstorable", data={"kind": "surrogate"}),
        make_execution(handler="tests.echo", data={"n": 1}),
    ]
    outcomes = run_executions([str(e.id) for e in executions])
    assert [outcomes[str(e.id)] for e in executions] == ["failed", "failed", "failed", "succeeded"]


@pytest.mark.integration
def test_a_real_worker_survives_a_keyboard_interrupt_and_a_nan_result(qcluster):
    interrupted = make_execution(handler="tests.raise_base", data={"kind": "keyboard"})
    nan = make_execution(handler="tests.unstorable", data={"kind": "nan"})
    enqueue([interrupted])
    enqueue([nan])
    wait_for(lambda: finished(interrupted).is_finished and finished(nan).is_finished)
    assert finished(interrupted).status == Execution.Status.FAILED
    assert "not JSON-serialisable" in finished(nan).error
    after = make_execution(handler="tests.echo", data={"n": 2})
    enqueue([after])
    wait_for(lambda: finished(after).status == Execution.Status.SUCCEEDED)
