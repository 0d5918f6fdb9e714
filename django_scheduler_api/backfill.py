"""Backfill: run the fires of a job's schedule in a past range on request (docs/scheduling.rst,
"Backfill").

One ``backfill`` execution per fire time of the schedule in ``[start, end]``, as the scheduler would
have recorded it (the same instants: ``planning`` computes them, calendars and jitter included).
Each is recorded once per job and fire time by the database's unique constraint (``fire_key``),
whoever records it: a second backfill of the same or an overlapping range, a concurrent one, or the
schedule itself firing that instant. The rows are recorded first and sent to django-q2 after the
commit (the outbox: a scheduler sends what a crash or a broker failure left unsent).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice, takewhile

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from django_scheduler_api import planning
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.engine import store
from django_scheduler_api.engine.dispatch import enqueue_on_commit
from django_scheduler_api.models import Execution, Job, is_job_id
from django_scheduler_api.services import NoSuchJob, schedule_of

# Fire times counted past BACKFILL_LIMIT to say how many a refused range holds: beyond that the
# answer says "more than" (an every-second cron over ten years holds 315 million).
COUNTED_BEYOND_LIMIT = 10_000
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)


@dataclass(frozen=True)
class Backfill:
    """What a backfill did: the fire times the range holds and the executions it created."""

    job_id: str
    start: datetime
    end: datetime
    fire_times: int
    executions: list[Execution]  # those created

    @property
    def created(self) -> int:
        return len(self.executions)

    @property
    def already_recorded(self) -> int:
        """Fire times of the range that had an execution already (an earlier backfill, the schedule)."""
        return self.fire_times - self.created


def backfill(job_id: str, start: datetime, end: datetime) -> Backfill:
    """Record and send one ``backfill`` execution per fire time of the job's schedule in
    ``[start, end]`` that has none yet; ValidationError (nothing changes) for a range that is not
    a past one or holds more than ``BACKFILL_LIMIT`` fire times, or a job without a schedule.

    The job's row stays locked until the executions are committed: two backfills of one job take
    turns (the constraint would keep each fire once anyway), and a concurrent delete cancels them
    with the job's other queued executions. Paused jobs are backfilled too: a backfill is an
    explicit request, as a trigger naming the job is.
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first() if is_job_id(job_id) else None
        if job is None:
            raise NoSuchJob(job_id)
        schedule = schedule_of(job)  # with its calendars: an excluded time is no fire time
        fires = fire_times(schedule, start, end, timezone.now())
        created = store.record_once(_executions(job, schedule, fires))
        enqueue_on_commit(created)
    return Backfill(job.id, start, end, len(fires), created)


def fire_times(schedule: planning.Schedule, start: datetime, end: datetime, now: datetime) -> list[datetime]:
    """The schedule's fire times in ``[start, end]``, checked against the rules of a backfill."""
    _check_range(start, end, now)
    if schedule.is_one_shot:
        raise ValidationError(
            "The job has neither cron_expression nor interval: it has no fire times to backfill. "
            "Trigger it to run it now.",
            code="no_schedule",
        )
    limit = int(scheduler_settings.BACKFILL_LIMIT)
    fires = list(islice(_fires_between(schedule, start, end), limit + COUNTED_BEYOND_LIMIT + 1))
    if len(fires) > limit:
        counted = f"{len(fires):,}" if len(fires) <= limit + COUNTED_BEYOND_LIMIT else None
        raise ValidationError(
            f"The range holds {counted or f'more than {limit + COUNTED_BEYOND_LIMIT:,}'} fire times; "
            f"BACKFILL_LIMIT allows {limit:,} per backfill. Backfill a shorter range.",
            code="too_many_fires",
        )
    return fires


def _check_range(start: datetime, end: datetime, now: datetime) -> None:
    """A backfill's range is past: the future belongs to the schedule, and a range cut at now
    silently would hide a wrong year."""
    if end <= start:
        message = "end must be after start."
    elif end > now:
        message = "end is in the future: a backfill runs past fire times; the schedule fires the others."
    else:
        return
    raise ValidationError({"end": ValidationError(message, code="invalid_range")})


def _fires_between(schedule: planning.Schedule, start: datetime, end: datetime) -> Iterator[datetime]:
    """The fires (after jitter, as the scheduler records them) in ``[start, end]``, in order.

    A fire delayed into the range by jitter counts: the search starts ``jitter`` seconds early.
    """
    margin = timedelta(seconds=schedule.jitter, microseconds=1)
    after = start - margin if start - EARLIEST > margin else EARLIEST
    fires = planning.fires_after(schedule, after)
    return (fire for fire in takewhile(lambda fire: fire <= end, fires) if fire >= start)


def _executions(job: Job, schedule: planning.Schedule, fires: list[datetime]) -> list[Execution]:
    """The rows of the fires; each knows its neighbours in the schedule (the handler's context):
    the first one's previous fire is not looked for (it would be a search backwards)."""
    if not fires:
        return []
    now = timezone.now()
    following = planning.next_fire_time(schedule, fires[-1], previous_fire_time=fires[-1])
    times = [None, *fires, following]
    return [
        Execution(
            **job.run_fields(),
            trigger=Execution.Trigger.BACKFILL,
            scheduled_fire_time=fire,
            fire_time=now,
            previous_fire_time=times[i],
            next_fire_time=times[i + 2],
        )
        for i, fire in enumerate(fires)
    ]
