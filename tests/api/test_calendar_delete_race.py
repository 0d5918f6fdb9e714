"""DELETE of a calendar racing with jobs that name it, with real concurrent HTTP requests to a live
server: whatever the order the database serialises them in, no job ever names a calendar that is
gone (the job's save locks the calendars it names; the delete locks the calendar, then looks for
jobs naming it)."""

from __future__ import annotations

import json
import threading

import pytest

from django_scheduler_api import calendars
from django_scheduler_api.models import Calendar, Job
from tests.api.test_trigger_delete_race import send

JOBS = 8
ROUNDS = 4


def race(base: str, calendar_id: str, round_: int) -> list[tuple[str, int]]:
    """``JOBS`` job POSTs naming the calendar and one DELETE of it, released at once."""
    body = json.dumps({"handler": "tests.echo", "cron_expression": "0 0 9 * * ?", "calendars": [calendar_id]})
    requests = [("POST", f"/scheduler/jobs/race.{round_}.{n}", body) for n in range(JOBS)]
    requests.insert(JOBS // 2, ("DELETE", f"/scheduler/calendars/{calendar_id}", ""))
    start = threading.Barrier(len(requests))
    answers: list[tuple[str, int]] = []

    def run(method: str, path: str, payload: str) -> None:
        start.wait()
        answers.append((method, send(base, method, path, payload)))

    threads = [threading.Thread(target=run, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.django_db(transaction=True)
def test_no_job_ever_names_a_deleted_calendar(live_server):
    for round_ in range(ROUNDS):
        calendar_id = f"race-{round_}"
        calendars.save_calendar(calendar_id, {"dates": ["2030-12-25"]})
        answers = race(live_server.url, calendar_id, round_)
        deleted = dict(answers)["DELETE"]
        created = Job.objects.filter(id__startswith=f"race.{round_}.").count()
        assert {status for method, status in answers if method == "POST"} <= {200, 400}
        assert created == sum(1 for method, status in answers if method == "POST" and status == 200)
        if deleted == 200:
            assert created == 0 and not Calendar.objects.filter(pk=calendar_id).exists()
        else:
            assert deleted == 409 and created > 0 and Calendar.objects.filter(pk=calendar_id).exists()
