"""The one exception the cron engine raises for bad expressions."""

from __future__ import annotations

FIELD_NAMES = (
    "seconds",
    "minutes",
    "hours",
    "day-of-month",
    "month",
    "day-of-week",
    "year",
)


class CronError(ValueError):
    """A cron expression was refused.

    ``field`` names the field at fault (one of :data:`FIELD_NAMES`) or is ``None``
    when the expression as a whole is wrong (field count, ``?`` placement).
    ``message`` is a sentence meant for the person who typed the expression;
    ``str(error)`` prefixes it with the field so API clients can show it as is.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)

    def __reduce__(self) -> tuple[type[CronError], tuple[str, str | None]]:
        """Keep ``field`` and ``message`` when pickled (django-q2 pickles errors)."""
        return (type(self), (self.message, self.field))
