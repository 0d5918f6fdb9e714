import json
import os

from django.apps import AppConfig


class TestAppConfig(AppConfig):
    name = "tests.testapp"
    label = "testapp"

    def ready(self) -> None:
        # A process started with SCHEDULER_TEST_SIGNAL_FILE (a test's qcluster) writes each scheduler
        # signal it sends there, one JSON line each, so that the test can read what the worker sent.
        path = os.environ.get("SCHEDULER_TEST_SIGNAL_FILE")
        if path:
            from django_scheduler_api import signals

            for name in ("execution_started", "execution_finished", "job_paused", "job_resumed"):
                getattr(signals, name).connect(_recorder(path, name), weak=False)


def _recorder(path: str, name: str):
    def record(sender, **kwargs) -> None:
        execution, job = kwargs.get("execution"), kwargs.get("job")
        line = {
            "signal": name,
            "pid": os.getpid(),
            "execution": str(execution.pk) if execution else None,
            "job": execution.job_id if execution else job.pk,
            "status": kwargs.get("status"),
            "db_status": execution.status if execution else None,
            "log": execution.log if execution else None,
        }
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")

    return record
