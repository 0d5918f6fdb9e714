"""What the scheduler is doing, read from the database: the figures behind the metrics endpoint and the
admin's dashboard (both front ends only format them).

The database is the one place that sees every scheduler and worker process on every host, so every
figure here is a query, not a counter kept in some process's memory. Each figure is one aggregate
(a ``GROUP BY``) over indexed columns, so a snapshot costs a handful of queries whatever the number of
executions; ``snapshot`` is cached for ``METRICS_CACHE_TTL`` seconds in Django's cache, so any
number of scrapers and dashboards read the database at most once per that time.

Histograms are over a recent window (``METRICS_WINDOW`` seconds of scheduled fire times): they answer
"how late, how slow, lately", and a count may go down as fires leave the window.
"""

from __future__ import annotations

import math
import operator
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import reduce
from itertools import accumulate
from typing import Any, NamedTuple, TypeVar

from django.core.cache import cache
from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import TruncMinute
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from django_scheduler_api import planning, services
from django_scheduler_api.conf import scheduler_settings
from django_scheduler_api.engine import store
from django_scheduler_api.models import DroppedMisfires, Execution, Job, PrunedExecutions

# Upper bounds (seconds) of the histograms' buckets: a scheduler exact to the millisecond needs
# millisecond buckets for the lag, and handlers run from milliseconds to hours.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
DURATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
CACHE_KEY = "django_scheduler_api:monitoring:snapshot"
# Not finished: queued or running, or kept waiting by the job's overlap policy (docs/scheduling.rst,
# "Overlap"); a waiting run is no outcome yet.
PENDING = (Execution.Status.QUEUED, Execution.Status.RUNNING, Execution.Status.WAITING)
T = TypeVar("T")


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts by upper bound (``+Inf`` last), with the count and sum of the observations."""

    buckets: tuple[tuple[float, int], ...]
    count: int
    sum: float

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile, interpolated within its bucket as Prometheus's ``histogram_quantile``."""
        if not self.count:
            return None
        rank = q * self.count
        lower, below = 0.0, 0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(bound):
                    return lower
                inside = cumulative - below
                return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
            lower, below = bound, cumulative
        return lower


@dataclass(frozen=True)
class Snapshot:
    """Everything the metrics endpoint exports, taken at ``taken_at``."""

    taken_at: datetime
    window: float
    fires: dict[str, int]  # every fire ever recorded, by trigger
    finished: dict[str, int]  # every finished execution ever recorded, by status
    pending: dict[str, int]  # executions queued, running or waiting now
    jobs: dict[str, int]  # by state
    live_nodes: int
    outbox: int  # executions recorded but not yet handed to django-q2
    oldest_running_age: float  # seconds; 0 when nothing runs
    fire_lag: Histogram
    durations: dict[str, Histogram] = field(default_factory=dict)  # by handler
    # Fires found later than MISFIRE_THRESHOLD: "fired" once late (fire_and_proceed, one-shots),
    # "dropped" not run (do_nothing; or too late by the time they reached the outbox or a worker).
    misfires: dict[str, int] = field(default_factory=dict)


def snapshot(now: datetime | None = None, *, cached: bool = True) -> Snapshot:
    """The current figures, from the cache when they are younger than ``METRICS_CACHE_TTL``."""
    if not cached:
        return take_snapshot(now)
    return cached_for_ttl(CACHE_KEY, lambda: take_snapshot(now))


def cached_for_ttl(key: str, compute: Callable[[], T]) -> T:
    """``compute()``, or its answer of less than ``METRICS_CACHE_TTL`` seconds ago (Django's cache):
    any number of scrapers and open dashboards read the database at most once per that time."""
    ttl = float(scheduler_settings.METRICS_CACHE_TTL)
    if ttl > 0:
        hit = cache.get(key)
        if hit is not None:
            return hit
    value = compute()
    if ttl > 0:
        cache.set(key, value, ttl)
    return value


def take_snapshot(now: datetime | None = None) -> Snapshot:
    """Read the figures from the database (eight queries)."""
    now = now or timezone.now()
    window = float(scheduler_settings.METRICS_WINDOW)
    since = now - timedelta(seconds=window)
    fires: dict[str, int] = dict.fromkeys(Execution.Trigger.values, 0)
    finished: dict[str, int] = dict.fromkeys(Execution.FINISHED, 0)
    by_kind = Execution.objects.order_by().values_list("trigger", "status").annotate(n=Count("pk"))
    for trigger, status, count in by_kind:
        _add_kind(fires, finished, trigger, status, count)
    for trigger, status, count in PrunedExecutions.objects.values_list("trigger", "status", "count"):
        _add_kind(fires, finished, trigger, status, count)
    jobs = dict.fromkeys(Job.State.values, 0)
    jobs.update(Job.objects.order_by().values_list("state").annotate(n=Count("pk")))
    now_running = activity(now)
    return Snapshot(
        taken_at=now,
        window=window,
        fires=fires,
        finished=finished,
        pending=now_running.pending,
        jobs=jobs,
        live_nodes=now_running.live_nodes,
        outbox=now_running.outbox,
        oldest_running_age=now_running.oldest_running_age,
        fire_lag=fire_lag_histogram(since, now),
        durations=duration_histograms(since, now),
        misfires={"fired": fires[Execution.Trigger.MISFIRE], "dropped": latest_misfires().dropped},
    )


@dataclass(frozen=True)
class MisfireTally:
    """Fires dropped as misfires, ever, and the job of the latest drop (None: never)."""

    dropped: int
    latest: DroppedMisfires | None


def latest_misfires() -> MisfireTally:
    """One query over ``DroppedMisfires`` (a row per job that ever dropped one)."""
    rows = DroppedMisfires.objects.annotate(total=Window(Sum("count"))).order_by("-last_dropped_at", "job_id")
    latest = rows.first()
    return MisfireTally(latest.total if latest else 0, latest)


@dataclass(frozen=True)
class Activity:
    """What goes on now: live schedulers and the executions not finished (the dashboard's cards)."""

    live_nodes: int
    pending: dict[str, int]  # executions queued, running or waiting, by status
    outbox: int  # executions recorded but not yet handed to django-q2
    oldest_running_age: float  # seconds; 0 when nothing runs


def activity(now: datetime) -> Activity:
    """Two queries: the live nodes, and the unfinished executions (a range of the status index,
    whatever the size of the history)."""
    pending: dict[str, int] = dict.fromkeys(PENDING, 0)
    outbox, oldest = 0, None
    rows = (
        Execution.objects.filter(status__in=PENDING)
        .order_by()
        .values_list("status")
        .annotate(
            n=Count("pk"),
            unsent=Count("pk", filter=Q(enqueued_at__isnull=True)),
            first_start=Min("started_at"),
        )
    )
    for status, count, unsent, first_start in rows:
        pending[status] = count
        if status == Execution.Status.QUEUED:
            outbox = unsent
        if status == Execution.Status.RUNNING:
            oldest = first_start
    age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    return Activity(services.count_live_nodes(now), pending, outbox, age)


def _add_kind(fires: dict[str, int], finished: dict[str, int], trigger: str, status: str, count: int) -> None:
    """Count a (trigger, status) group: every one is a fire; a finished one is also an outcome."""
    fires[trigger] = fires.get(trigger, 0) + count
    if status not in PENDING:
        finished[status] = finished.get(status, 0) + count


class _Minute(TruncMinute):
    """A datetime truncated to its minute, in UTC. Django computes ``TruncMinute`` on SQLite with a
    Python function called for every row (a day of 100,000 fires: seconds); SQLite stores a
    datetime as UTC text, ``YYYY-MM-DD HH:MM:SS[.ffffff]``, whose first 16 characters are the
    minute, read back as a datetime by the usual converters."""

    def __init__(self, expression: str) -> None:
        super().__init__(expression, tzinfo=UTC)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        sql, params = compiler.compile(self.lhs)
        return f"substr({sql}, 1, 16)", list(params)


class _LagSeconds(Func):
    """Fire lag in seconds (a float): ``started_at - scheduled_fire_time`` in each database's own
    arithmetic. Django's duration subtraction on SQLite is a Python function per row; here SQLite
    subtracts whole seconds (``julianday`` of the first 19 characters, exact once rounded) and adds
    the fractions of the stored text, exact to the microsecond."""

    output_field = FloatField()

    def __init__(self) -> None:
        super().__init__(F("started_at"), F("scheduled_fire_time"))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        (started, s_params), (fired, f_params) = (compiler.compile(e) for e in self.source_expressions)
        return f"EXTRACT(EPOCH FROM ({started} - {fired}))", [*s_params, *f_params]

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        # 1e6, a DOUBLE: dividing by 1000000.0 would give a DECIMAL of 4 places (div_precision_increment).
        (started, s_params), (fired, f_params) = (compiler.compile(e) for e in self.source_expressions)
        return f"TIMESTAMPDIFF(MICROSECOND, {fired}, {started}) / 1e6", [*f_params, *s_params]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        (started, s_params), (fired, f_params) = (compiler.compile(e) for e in self.source_expressions)
        whole = f"ROUND((julianday(substr({started}, 1, 19)) - julianday(substr({fired}, 1, 19))) * 86400)"
        fraction = f"CAST(substr({started}, 20) AS REAL) - CAST(substr({fired}, 20) AS REAL)"
        return f"({whole} + {fraction})", [*s_params, *s_params, *f_params, *f_params]


def _lag() -> ExpressionWrapper:
    """Fire lag: when the handler started, minus the fire time the schedule named."""
    return ExpressionWrapper(F("started_at") - F("scheduled_fire_time"), output_field=DurationField())


def _bucket_counts(value: Any, bounds: tuple[float, ...], as_value: Any) -> dict[str, Count]:
    """One conditional count per bucket bound, ``value <= bound``: a histogram in one query."""
    return {
        f"le_{i}": Count("pk", filter=LessThanOrEqual(value, Value(as_value(b))))
        for i, b in enumerate(bounds)
    }


def _seconds(bound: float) -> timedelta:
    return timedelta(seconds=bound)


def _histogram(row: dict[str, Any], bounds: tuple[float, ...], total: float) -> Histogram:
    count = int(row["count"] or 0)
    buckets = tuple((b, int(row[f"le_{i}"] or 0)) for i, b in enumerate(bounds))
    return Histogram((*buckets, (math.inf, count)), count, total)


def _scheduled_between(since: datetime, until: datetime) -> Any:
    """Scheduled fires (not manual or misfires) of the window that have started."""
    return Execution.objects.filter(
        scheduled_fire_time__gte=since,
        scheduled_fire_time__lte=until,
        trigger=Execution.Trigger.SCHEDULE,
        started_at__isnull=False,
    ).order_by()


def fire_lag_histogram(since: datetime, until: datetime) -> Histogram:
    """The fire lag of the scheduled fires of a window. Misfires (late by definition) and manual
    triggers (no schedule to be late for) are left out."""
    row = _scheduled_between(since, until).aggregate(
        count=Count("pk"),
        total=Sum(_lag()),
        **_bucket_counts(_lag(), LAG_BUCKETS, _seconds),
    )
    total = row["total"].total_seconds() if row["total"] is not None else 0.0
    return _histogram(row, LAG_BUCKETS, total)


def _finished_between(since: datetime, until: datetime) -> Any:
    """Executions fired in the window whose handler finished (they have a duration)."""
    return Execution.objects.filter(
        scheduled_fire_time__gte=since, scheduled_fire_time__lte=until, duration_ms__isnull=False
    ).order_by()


def duration_histograms(since: datetime, until: datetime) -> dict[str, Histogram]:
    """Handler run times of the executions of a window that finished, by handler."""
    rows = (
        _finished_between(since, until)
        .values("handler")
        .annotate(
            count=Count("pk"),
            total=Sum("duration_ms"),
            **_bucket_counts(F("duration_ms"), DURATION_BUCKETS, lambda b: round(b * 1000)),
        )
    )
    return {row["handler"]: _histogram(row, DURATION_BUCKETS, (row["total"] or 0) / 1000) for row in rows}


# -- the dashboard -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Minute:
    """Executions of one minute of scheduled fire times, by status."""

    start: datetime
    counts: dict[str, int]


def executions_per_minute(since: datetime, until: datetime) -> list[Minute]:
    """Every minute of ``[since, until)``, with its executions by status (one GROUP BY)."""
    rows = (
        Execution.objects.filter(scheduled_fire_time__gte=since, scheduled_fire_time__lt=until)
        .order_by()
        .annotate(minute=_Minute("scheduled_fire_time"))
        .values_list("minute", "status")
        .annotate(n=Count("pk"))
    )
    counts: dict[datetime, dict[str, int]] = defaultdict(dict)
    for minute, status, n in rows:
        counts[minute][status] = n
    return [Minute(start, counts.get(start, {})) for start in _minutes(since, until)]


def _minutes(since: datetime, until: datetime) -> list[datetime]:
    first = since.replace(second=0, microsecond=0)
    count = math.ceil((until - first).total_seconds() / 60)
    return [first + timedelta(minutes=i) for i in range(count)]


@dataclass(frozen=True)
class LagPoint:
    """The fire lag quantiles of one time step (None when nothing fired in it)."""

    start: datetime
    count: int
    p50: float | None
    p99: float | None


def fire_lag_over_time(since: datetime, until: datetime, *, step_minutes: int = 5) -> list[LagPoint]:
    """Fire lag p50 and p99 per ``step_minutes`` of ``[since, until)``.

    Percentiles are not portable SQL, so the database counts each minute's fires per lag bucket
    (one GROUP BY on the minute and the bucket, a ``CASE`` that stops at the fire's bucket, cheaper
    than one conditional count per bucket) and the quantiles are read from those histograms, as
    Prometheus reads its own: the same estimate as ``histogram_quantile`` over
    ``scheduler_fire_lag_seconds``.
    """
    within = (LessThanOrEqual(_LagSeconds(), Value(bound)) for bound in LAG_BUCKETS)
    bucket = Case(*(When(w, then=Value(i)) for i, w in enumerate(within)), default=Value(len(LAG_BUCKETS)))
    rows = (
        _scheduled_between(since, until)
        .filter(scheduled_fire_time__lt=until)
        .annotate(minute=_Minute("scheduled_fire_time"), bucket=bucket)
        .values_list("minute", "bucket")
        .annotate(n=Count("pk"))
    )
    steps: dict[datetime, list[int]] = {}
    first = since.replace(second=0, microsecond=0)
    for minute, index, count in rows:
        step = int((minute - first).total_seconds() // (60 * step_minutes))
        start = first + timedelta(minutes=step * step_minutes)
        steps.setdefault(start, [0] * (len(LAG_BUCKETS) + 1))[index] += count
    return [_lag_point(start, steps.get(start)) for start in _minutes(since, until)[::step_minutes]]


def _lag_point(start: datetime, counts: list[int] | None) -> LagPoint:
    """The quantiles of one step from its count of fires per bucket (None: nothing fired)."""
    if not counts:
        return LagPoint(start, 0, None, None)
    cumulative = list(accumulate(counts))
    total = cumulative[-1]
    histogram = Histogram((*zip(LAG_BUCKETS, cumulative, strict=False), (math.inf, total)), total, 0.0)
    return LagPoint(start, total, histogram.quantile(0.5), histogram.quantile(0.99))


class Run(NamedTuple):
    """One execution as a cell of the dashboard's grid (a tuple: the grid builds thousands)."""

    id: Any
    status: str
    trigger: str
    scheduled_fire_time: datetime
    duration_ms: int | None


def recent_runs(job_ids: list[str], since: datetime, *, per_job: int) -> dict[str, list[Run]]:
    """The last ``per_job`` executions fired since ``since`` of each job, oldest first.

    Two queries that read about ``per_job`` index entries per job, however long the range: first
    each job's cut-off, the fire time of its ``per_job``-th latest execution in the range (a
    subquery per job, an index scan of ``sched_exec_job_time_idx`` stopped after ``per_job``
    entries); then the rows from each job's cut-off on (one range of that index per job). A window
    function (``ROW_NUMBER() OVER (PARTITION BY job_id ...)``) would number every row of the range
    first: 100,000 rows for a day of 100 jobs firing each second.
    """
    if not job_ids:
        return {}
    nth_latest = Subquery(
        Execution.objects.filter(job_id=OuterRef("pk"), scheduled_fire_time__gte=since)
        .order_by("-scheduled_fire_time")
        .values("scheduled_fire_time")[per_job - 1 : per_job]
    )
    cutoffs = Job.objects.filter(pk__in=job_ids).annotate(cutoff=nth_latest).values_list("pk", "cutoff")
    ranges = {job_id: since for job_id in job_ids}  # a job deleted since: its rows of the range
    ranges.update((job_id, cutoff or since) for job_id, cutoff in cutoffs)
    wanted = reduce(
        operator.or_, (Q(job_id=job_id, scheduled_fire_time__gte=start) for job_id, start in ranges.items())
    )
    rows = (
        Execution.objects.filter(wanted)
        .order_by()
        .values_list("job_id", "id", "status", "trigger", "scheduled_fire_time", "duration_ms")
    )
    runs: dict[str, list[Run]] = {job_id: [] for job_id in job_ids}
    for job_id, *fields in rows:
        runs[job_id].append(Run(*fields))
    for cells in runs.values():
        cells.sort(key=lambda run: (run.scheduled_fire_time, str(run.id)))
        del cells[:-per_job]  # manual triggers may share the cut-off's instant
    return runs


@dataclass(frozen=True)
class JobTiming:
    """How a job's handlers ran in a window: how many finished, how long on average and at most."""

    job_id: str
    count: int
    failed: int
    mean_ms: float
    max_ms: int


def slowest_jobs(since: datetime, until: datetime, *, limit: int) -> list[JobTiming]:
    """The jobs whose finished executions of the window took longest on average (one GROUP BY)."""
    rows = (
        _finished_between(since, until)
        .values("job_id")
        .annotate(
            count=Count("pk"),
            failed=Count("pk", filter=Q(status=Execution.Status.FAILED)),
            total=Sum("duration_ms"),
            longest=Max("duration_ms"),
        )
    )
    timings = [
        JobTiming(row["job_id"], row["count"], row["failed"], row["total"] / row["count"], row["longest"])
        for row in rows
    ]
    timings.sort(key=lambda timing: -timing.mean_ms)
    return timings[:limit]


def recent_durations(job_id: str, *, limit: int) -> list[Run]:
    """A job's last ``limit`` executions, oldest first, for its page's duration chart."""
    rows = (
        Execution.objects.filter(job_id=job_id)
        .order_by("-scheduled_fire_time")
        .values_list("id", "status", "trigger", "scheduled_fire_time", "duration_ms")[:limit]
    )
    return [Run(*row) for row in reversed(rows)]


@dataclass(frozen=True)
class Upcoming:
    """A job's fires in the coming hours; ``capped`` when there were more than were counted."""

    job_id: str
    fires: list[datetime]
    capped: bool


def upcoming_fires(now: datetime, until: datetime, *, jobs: int, per_job: int) -> list[Upcoming]:
    """The fires in ``(now, until]`` of the ``jobs`` planned jobs that fire soonest, as the scheduler
    computes them (``planning``): one query, then cron arithmetic, at most ``per_job`` fires each."""
    soonest = (
        Job.objects.filter(state=Job.State.PLANNED, next_fire_time__isnull=False, next_fire_time__lte=until)
        .order_by("next_fire_time", "id")
        .only("id", *Job.TIMING_FIELDS, "next_fire_time")[:jobs]
    )
    rules = store.calendar_rules(name for job in soonest for name in job.calendars or ())
    return [_upcoming(job, now, until, per_job, rules) for job in sorted(soonest, key=lambda job: job.id)]


def _upcoming(
    job: Job, now: datetime, until: datetime, per_job: int, rules: dict[str, planning.CalendarRules]
) -> Upcoming:
    schedule = planning.Schedule.of(job, rules)
    fires: list[datetime] = []
    fire = job.next_fire_time
    while fire is not None and fire <= until and len(fires) < per_job:
        fires.append(max(fire, now))  # a fire due now (being sent) is drawn at now
        fire = planning.next_fire_time(schedule, max(fire, now), previous_fire_time=fire)
    capped = fire is not None and fire <= until
    return Upcoming(job.id, fires, capped)


def recent_failures(since: datetime, *, limit: int) -> list[Execution]:
    """The latest executions fired since ``since`` that failed or were lost."""
    return list(
        Execution.objects.filter(
            status__in=(Execution.Status.FAILED, Execution.Status.LOST), scheduled_fire_time__gte=since
        )
        .only("id", "job_id", "status", "scheduled_fire_time", "error")
        .order_by("-scheduled_fire_time")[:limit]
    )


def grid_job_ids(*, limit: int) -> list[str]:
    """The jobs the dashboard's grid shows: the first ``limit`` by id."""
    return list(Job.objects.order_by("id").values_list("id", flat=True)[:limit])
