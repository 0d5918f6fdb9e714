"""The scheduler's state: jobs, their executions and the scheduler processes that fire them.

A ``Job`` carries its own ``next_fire_time`` so that finding due work is one indexed range scan. An
``Execution`` is one fire of a job ("job instance"); the database guarantees at most one per job and
scheduled fire time, which is what makes several scheduler processes safe. Executions keep the job's id
without a foreign-key constraint so that history outlives the job it belongs to.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.deconstruct import deconstructible

# The characters of an identifier (job and calendar ids, groups), as a regex character class.
ID_CHARACTERS = "A-Za-z0-9._:-"
# Not dots alone: clients rewrite ``.`` and ``..`` in a URL path, so such a job could not be reached.
# Written for the schema (ECMA-262, where ``$`` is the end of the text); Python always matches it
# against the whole string (``fullmatch``), because Python's ``$`` also matches before a final
# newline: ``ghost\n`` would pass a ``search`` (issue 21).
JOB_ID_PATTERN = rf"^(?!\.+$)[{ID_CHARACTERS}]{{1,200}}$"
JOB_ID_MESSAGE = "Use 1-200 characters: letters, digits and . _ - :, not dots alone"
# A character no identifier has: how the system check finds stored rows that break the rule, with
# a regex every database reads alike (no anchors, whose meaning before a newline differs).
NOT_ID_CHARACTER = f"[^{ID_CHARACTERS}]"


@deconstructible
class FullMatchValidator(RegexValidator):
    """A ``RegexValidator`` that matches the whole value (Django's searches, so ``$`` lets a
    trailing newline through)."""

    def __call__(self, value: Any) -> None:
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise ValidationError(self.message, code=self.code, params={"value": value})


job_id_validator = FullMatchValidator(JOB_ID_PATTERN, JOB_ID_MESSAGE, code="invalid_id")
# A group follows the rule of ids (it defaults to the part of the id before the first dot).
group_validator = FullMatchValidator(
    JOB_ID_PATTERN, JOB_ID_MESSAGE.replace("Use", "A group has"), code="invalid_group"
)


def is_job_id(text: object) -> bool:
    """Whether ``text`` could be a job's id; anything else names no job (and never reaches a query)."""
    return isinstance(text, str) and job_id_validator.regex.fullmatch(text) is not None


def is_stored_key(text: object) -> bool:
    """Whether ``text`` may be looked up as a primary key although it breaks the id rule: a row
    stored before the rule was whole-string (``ghost\n``) must stay reachable from the CLI and the
    admin so that it can be shown and deleted. Text every database compares safely: no NUL (which
    PostgreSQL refuses), no lone surrogate, at most a column's length."""
    return (
        isinstance(text, str)
        and 0 < len(text) <= 200
        and "\x00" not in text
        and not any("\ud800" <= char <= "\udfff" for char in text)
    )


class IdentifierField(models.CharField):
    """A ``CharField`` compared byte for byte on every database.

    Ids, groups and handler names are case-sensitive, as text is on PostgreSQL and SQLite; MariaDB's
    default collations ignore case (``Report`` would replace ``report``), so there the column gets the
    binary collation. A foreign key to such a column inherits it, as MariaDB requires.
    """

    def db_parameters(self, connection):  # type: ignore[no-untyped-def]
        params = super().db_parameters(connection)
        if connection.vendor == "mysql" and not self.db_collation:
            params["collation"] = "utf8mb4_bin"
        return params


# The longest interval (about 68 years: the largest 32-bit integer), so that no database and no
# datetime arithmetic overflows on a stored value.
MAX_INTERVAL = 2**31 - 1
# The most attempts a retry policy may ask for (each attempt is a row of its own), and the largest
# back-off coefficient (docs/scheduling.rst, "Retries").
MAX_RETRY_ATTEMPTS = 1000
MAX_BACKOFF_COEFFICIENT = 100


class Job(models.Model):
    """A scheduled job: what to run (a registered handler) and when (cron or interval + zone + window)."""

    class State(models.TextChoices):
        PLANNED = "planned", "Planned"
        PAUSED = "paused", "Paused"

    class MisfirePolicy(models.TextChoices):
        DO_NOTHING = "do_nothing", "Do nothing"
        FIRE_AND_PROCEED = "fire_and_proceed", "Fire and proceed"

    class OverlapPolicy(models.TextChoices):
        ALLOW = "allow", "Allow"
        SKIP = "skip", "Skip while running"
        BUFFER_ONE = "buffer_one", "Buffer one while running"

    class Source(models.TextChoices):
        API = "api", "API"
        CODE = "code", "Code"

    id = IdentifierField(primary_key=True, max_length=200, validators=[job_id_validator])
    group = IdentifierField(max_length=200, default="default", validators=[group_validator])
    name = models.CharField(max_length=200)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PLANNED)
    description = models.TextField(blank=True, default="")
    handler = IdentifierField(max_length=200)
    cron_expression = models.CharField(max_length=500, blank=True, default="")
    # The alternative to cron (Quartz's SimpleTrigger): every ``interval`` seconds from an anchor
    # (``interval_anchor``, else ``start_time``, else the Unix epoch), ``repeat_count`` times after
    # the first fire (null: for ever). docs/scheduling.rst.
    interval = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_INTERVAL)]
    )
    interval_anchor = models.DateTimeField(null=True, blank=True)
    repeat_count = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_INTERVAL)]
    )
    timezone = models.CharField(max_length=64, default="UTC")
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    misfire_policy = models.CharField(
        max_length=32, choices=MisfirePolicy.choices, default=MisfirePolicy.DO_NOTHING
    )
    overlap_policy = models.CharField(
        max_length=16, choices=OverlapPolicy.choices, default=OverlapPolicy.ALLOW
    )
    # How many runs of the job may be queued or running at once under ``skip`` and ``buffer_one``
    # (null: one); a fire beyond it is skipped or kept waiting (docs/scheduling.rst, "Overlap").
    max_concurrent = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_INTERVAL)]
    )
    # Each fire delayed by up to this many seconds, by an amount derived from the job's id and the
    # fire's time (planning.jitter_delay), so every scheduler computes the same instant.
    jitter = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(MAX_INTERVAL)])
    # The retry policy (Temporal's RetryPolicy): an execution recorded ``failed`` (or ``lost``, with
    # ``retry_on_lost``) is run again, as an execution of its own, ``retry_initial_delay`` seconds
    # after it ended, each later delay ``retry_backoff_coefficient`` times the one before, at most
    # ``retry_max_delay``; ``retry_max_attempts`` counts the first (1: no retry). docs/scheduling.rst.
    retry_max_attempts = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_RETRY_ATTEMPTS)]
    )
    retry_initial_delay = models.PositiveIntegerField(
        default=10, validators=[MaxValueValidator(MAX_INTERVAL)]
    )
    retry_backoff_coefficient = models.FloatField(
        default=2.0, validators=[MinValueValidator(1), MaxValueValidator(MAX_BACKOFF_COEFFICIENT)]
    )
    retry_max_delay = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_INTERVAL)]
    )
    retry_on_lost = models.BooleanField(default=False)
    # The longest a run's handler may take, in seconds (null: no limit of the job's own); a handler
    # still running then is stopped and its execution recorded failed (docs/scheduling.rst, "Timeouts").
    timeout = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_INTERVAL)]
    )
    data = models.JSONField(default=dict, blank=True)
    # The ids of the calendars whose exclusions skip this job's fires (docs/scheduling.rst,
    # "Calendars"). A list rather than a many-to-many table so that a job's schedule is one row, read
    # by the claim as it is; a calendar in use cannot be deleted (services refuse it).
    calendars = models.JSONField(default=list, blank=True)
    next_fire_time = models.DateTimeField(null=True, blank=True)
    previous_fire_time = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The fields that decide when the job fires (docs/scheduling.rst): a change to any of them
    # recomputes ``next_fire_time`` (and re-arms a one-shot job); the scheduler's claim reads them.
    TIMING_FIELDS = (
        "cron_expression", "interval", "interval_anchor", "repeat_count", "timezone", "start_time",
        "end_time", "jitter", "calendars",
    )  # fmt: skip
    # The retry policy's fields (docs/scheduling.rst, "Retries"); a change never moves a fire.
    RETRY_FIELDS = (
        "retry_max_attempts", "retry_initial_delay", "retry_backoff_coefficient", "retry_max_delay",
        "retry_on_lost",
    )  # fmt: skip

    class Meta:
        ordering = ["id"]
        indexes = [
            # The scheduler's hot query: planned jobs whose next fire time has come.
            models.Index(fields=["state", "next_fire_time"], name="sched_job_due_idx"),
            models.Index(fields=["group"], name="sched_job_group_idx"),
            models.Index(fields=["handler"], name="sched_job_handler_idx"),
        ]

    def __str__(self) -> str:
        return self.id

    @staticmethod
    def split_id(job_id: str) -> tuple[str, str]:
        """Default (group, name) for an id: ``reports.daily`` -> (reports, daily); ``x`` -> (default, x)."""
        group, sep, name = job_id.partition(".")
        return (group, name) if sep and group and name else ("default", job_id)

    @property
    def is_one_shot(self) -> bool:
        return not self.cron_expression and not self.interval

    def run_fields(self, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """What each run of the job copies from it, whatever made the run (a fire, a trigger, a
        backfill): the execution keeps them, so an edit of the job changes no run already recorded.
        ``data`` is shallow-merged over the job's (a trigger's body; its keys win)."""
        return {
            "job_id": self.pk,
            "handler": self.handler,
            "data": {**(self.data or {}), **(data or {})},
            "timeout": self.timeout,
        }


class Calendar(models.Model):
    """A named set of exclusions that jobs refer to by id: no fire of such a job falls in them.

    As Quartz's ``HolidayCalendar``, ``AnnualCalendar`` and ``CronCalendar`` in one: local dates
    (``2026-12-25``), inclusive date ranges (``{"start": "2026-12-24", "end": "2026-12-31"}``),
    dates every year (``12-25``, ``02-29``) and Quartz cron expressions whose selected seconds are
    excluded, all read on the clock of the zone of the job that uses the calendar
    (docs/scheduling.rst, "Calendars").
    """

    id = IdentifierField(primary_key=True, max_length=200, validators=[job_id_validator])
    description = models.TextField(blank=True, default="")
    dates = models.JSONField(default=list, blank=True)
    date_ranges = models.JSONField(default=list, blank=True)
    yearly_dates = models.JSONField(default=list, blank=True)
    cron_expressions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.id


class Execution(models.Model):
    """One fire of a job, from creation by a scheduler (or a manual trigger) to its outcome."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Manual"
        MISFIRE = "misfire", "Misfire"
        # A past fire time of the schedule run on request (docs/scheduling.rst, "Backfill").
        BACKFILL = "backfill", "Backfill"
        RETRY = "retry", "Retry"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"
        LOST = "lost", "Lost"
        # Kept by the job's overlap policy ``buffer_one`` until a run of the job ends.
        WAITING = "waiting", "Waiting"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.SKIPPED, Status.CANCELLED, Status.LOST)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No database constraint: the history of a deleted job stays readable under its id. No index of
    # its own either: ``sched_exec_job_time_idx`` and ``sched_execution_once_per_fire`` both begin
    # with it and serve every lookup by job, and each index more is written with every fire, claim
    # and outcome (PostgreSQL added a second, for LIKE, that no query uses).
    job = models.ForeignKey(
        Job,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="executions",
    )
    handler = IdentifierField(max_length=200)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    scheduled_fire_time = models.DateTimeField()
    fire_time = models.DateTimeField()
    # The job's fires around this one, as the scheduler knew them when it recorded the fire: carried on
    # the row so that a worker builds the handler's context without querying the job's history.
    previous_fire_time = models.DateTimeField(null=True, blank=True)
    next_fire_time = models.DateTimeField(null=True, blank=True)
    # When a fire kept ``waiting`` by its job's overlap policy was let go (null: it never waited); its
    # lateness is judged from then (docs/scheduling.rst, "Overlap").
    released_at = models.DateTimeField(null=True, blank=True)
    # The outbox: null until the django-q2 task is enqueued; a scheduler re-enqueues rows left null.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True, default="")
    node = models.CharField(max_length=255, blank=True, default="")
    # The WorkerNode (django-q2 worker process) that claimed the execution: while it runs, the
    # execution lives as long as that worker's heartbeat does.
    worker = models.CharField(max_length=255, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # The job's timeout when it fired, carried on the row (as ``data``) for the task that runs it and
    # the sweep that fails it if its worker could not (docs/scheduling.rst, "Timeouts").
    timeout = models.PositiveIntegerField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)  # noqa: DJ001  (the API shows null)
    traceback = models.TextField(blank=True, default="")
    # What the handler logged through ``logging`` while it ran, bounded by ``HANDLER_LOG_LIMIT``.
    log = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # Retries (docs/scheduling.rst, "Retries"): the number of this attempt (1: the first), and for a
    # retry the first execution of its chain (null for a first attempt). No database constraint: the
    # first may be pruned before its retries. No index of its own: the unique constraint on
    # (first_execution, attempt) is one, and every insert of an execution pays for each index.
    attempt = models.PositiveIntegerField(default=1)
    first_execution = models.ForeignKey(
        "self",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="retries",
    )
    # The scheduled fire time of a fire of the schedule (a misfire, a backfill), null for a manual
    # trigger or a retry (which the constraint on attempts holds instead): the database computes it,
    # and the unique constraint below holds it. A generated column rather than a partial unique index
    # because MariaDB has no partial indexes; NULLs never collide, on any database.
    fire_key = models.GeneratedField(
        expression=models.Case(
            models.When(~Q(trigger__in=["manual", "retry"]), then=F("scheduled_fire_time")),
            default=None,
        ),
        output_field=models.DateTimeField(null=True),
        db_persist=True,
    )

    class Meta:
        ordering = ["-scheduled_fire_time", "id"]
        constraints = [
            # Exactly once: one scheduled (misfire, backfill) execution per job and fire time, whatever
            # the number of scheduler processes or backfills. Manual triggers are not fires of the schedule.
            models.UniqueConstraint(fields=["job", "fire_key"], name="sched_execution_once_per_fire"),
            # Exactly once for retries: one execution per attempt of a chain, whichever process
            # records the outcome that asks for it (first attempts have no chain: NULLs never collide).
            models.UniqueConstraint(
                fields=["first_execution", "attempt"], name="sched_execution_once_per_attempt"
            ),
        ]
        indexes = [
            models.Index(fields=["job", "scheduled_fire_time"], name="sched_exec_job_time_idx"),
            models.Index(fields=["status", "created_at"], name="sched_exec_status_idx"),
            # Recent fires of every job (the metrics' window, the dashboard's charts) are a range scan.
            models.Index(fields=["scheduled_fire_time"], name="sched_exec_fire_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} @ {self.scheduled_fire_time:%Y-%m-%dT%H:%M:%SZ} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def chain_id(self) -> uuid.UUID:
        """The first execution of this execution's chain of attempts (itself, for a first attempt)."""
        return self.first_execution_id or self.pk


class PrunedExecutions(models.Model):
    """How many finished executions of each (trigger, status) pruning has deleted.

    The metrics count every fire and outcome ever recorded: the rows still in the table plus these.
    Without them a counter would fall at every prune, which Prometheus reads as a restart.
    """

    trigger = models.CharField(max_length=16, choices=Execution.Trigger.choices)
    status = models.CharField(max_length=16, choices=Execution.Status.choices)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trigger", "status"], name="sched_pruned_once_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.trigger}/{self.status}: {self.count}"


class DroppedMisfires(models.Model):
    """How many fires of each job its misfire policy dropped: found later than ``MISFIRE_THRESHOLD``
    and not run (docs/observability.rst, ``scheduler_misfires_total``).

    A fire the scheduler finds late when it plans the job (``do_nothing``) leaves no execution: this
    tally, updated in the transaction that moves the job's fire times, is its only trace (one count
    per misfire, however many fire times it passed over). A fire
    dropped after it was recorded (it waited in the outbox or the broker) is also a ``skipped``
    execution. Keyed by the job's id without a foreign key: the count outlives a deleted job, as
    its executions do, so the counter never goes down.
    """

    job_id = IdentifierField(max_length=200, unique=True)
    count = models.PositiveBigIntegerField(default=0)
    last_fire_time = models.DateTimeField(help_text="The scheduled fire time of the latest fire dropped.")
    last_dropped_at = models.DateTimeField(help_text="When the latest fire was dropped.")

    class Meta:
        verbose_name_plural = "dropped misfires"

    def __str__(self) -> str:
        return f"{self.job_id}: {self.count}"


class Dashboard(Execution):
    """The admin's *Scheduler > Dashboard* page. A proxy without data of its own: registering it is
    how a reusable app puts a page of its own on the admin's index next to its models."""

    class Meta:
        proxy = True
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"


class HeartbeatNode(models.Model):
    """A process known by its heartbeat: a row it refreshes, named ``host:pid``."""

    name = IdentifierField(primary_key=True, max_length=255)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SchedulerNode(HeartbeatNode):
    """A running scheduler process, known by its heartbeat."""


class WorkerNode(HeartbeatNode):
    """A django-q2 worker process that runs executions, known by its heartbeat (as ``SchedulerNode``).

    Each worker process refreshes its row every ``WORKER_HEARTBEAT_INTERVAL`` seconds; a running
    execution whose worker has been silent for ``WORKER_TIMEOUT`` seconds is lost (its process
    died with it). ``name`` is ``host:pid``, what ``Execution.worker`` holds.
    """

    # A plain CharField, as migration 0006 made it (the names are host:pid, never case variants).
    name = models.CharField(primary_key=True, max_length=255)
    cluster = models.CharField(max_length=100, blank=True, default="")
