"""Quartz-compatible cron expressions: parse, validate, describe, compute fire times.

Pure Python (stdlib :mod:`zoneinfo`), importable without Django settings::

    from django_scheduler_api.cron import CronExpression, CronError, describe

    expr = CronExpression("0 15 10 ? * 2-6")
    expr.next_fire_time(datetime.now(timezone.utc), "Europe/Berlin")
"""

from .describe import describe
from .errors import CronError
from .expression import CronExpression
from .unix import is_unix_expression, to_quartz

__all__ = ["CronError", "CronExpression", "describe", "is_unix_expression", "to_quartz"]
