"""Handler registration: the only code a job can run is a callable registered under a name.

A job names a handler, never an import path, so the API cannot be used to run arbitrary code
(docs/api.rst, "Design decisions"). Handlers are registered with the ``@handler`` decorator in each
app's handler module, which ``autodiscover()`` imports at startup the way the admin imports
``admin.py``.

    from django_scheduler_api import handler

    @handler("reports.daily")
    def daily_report(ctx):
        \"\"\"Mail the daily report.\"\"\"
        return {"sent": 3}
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

HandlerFunc = Callable[..., Any]


class HandlerNotRegistered(LookupError):
    """Raised for a handler name nobody registered; the message lists the names that exist."""

    def __init__(self, name: str, registered: list[str]) -> None:
        self.name = name
        self.registered = registered
        known = ", ".join(registered) if registered else "none"
        super().__init__(f"Unknown handler {name!r}. Registered handlers: {known}.")


@dataclass(frozen=True)
class Handler:
    """A registered callable and what the API shows about it."""

    name: str
    func: HandlerFunc
    description: str = ""
    # A job declared next to its code: the job fields (cron_expression, timezone, ...) to upsert.
    job: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"


def _first_doc_line(func: HandlerFunc) -> str:
    doc = (func.__doc__ or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


HANDLER_NAME_RULE = "1-200 characters, no whitespace and no control characters."


def is_handler_name(name: object) -> bool:
    """Whether ``name`` can be a handler's name (``HANDLER_NAME_RULE``): a name is matched whole,
    so one with a newline or a space could be mistaken for another in a list or a log line."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= 200
        and name.isprintable()
        and not any(char.isspace() for char in name)
    )


class HandlerRegistry:
    """Name -> Handler. One process-wide instance, ``registry``."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str, func: HandlerFunc, **job: Any) -> Handler:
        if not is_handler_name(name):
            raise ValueError(f"Handler name {name!r}: {HANDLER_NAME_RULE}")
        existing = self._handlers.get(name)
        if existing is not None and existing.func is not func and existing.path != _path(func):
            raise ValueError(f"Handler {name!r} is already registered to {existing.path}.")
        entry = Handler(name=name, func=func, description=_first_doc_line(func), job=job)
        self._handlers[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._handlers.pop(name, None)

    def get(self, name: str) -> Handler:
        try:
            return self._handlers[name]
        except KeyError:
            raise HandlerNotRegistered(name, self.names()) from None

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[Handler]:
        return iter(sorted(self._handlers.values(), key=lambda h: h.name))

    def names(self) -> list[str]:
        return sorted(self._handlers)


def _path(func: HandlerFunc) -> str:
    return f"{func.__module__}.{func.__qualname__}"


registry = HandlerRegistry()


def handler(
    name: str | None = None, *, schedule: str | None = None, **job: Any
) -> Callable[[HandlerFunc], HandlerFunc]:
    """Register the decorated callable as a handler.

    ``name`` defaults to ``module.function``. ``schedule`` (a Quartz cron expression) with any other
    job fields declares a job in code with the handler's name as its id; schedulers upsert it when
    they start.
    """
    if callable(name):  # used bare: @handler
        func, name = name, None
        registry.register(_path(func), func)
        return func

    def decorator(func: HandlerFunc) -> HandlerFunc:
        fields = dict(job)
        if schedule is not None:
            fields["cron_expression"] = schedule
        registry.register(name or _path(func), func, **fields)
        return func

    return decorator


def autodiscover() -> None:
    """Import every installed app's handler module so its ``@handler`` decorators run."""
    from django.utils.module_loading import autodiscover_modules

    from django_scheduler_api.conf import scheduler_settings

    autodiscover_modules(scheduler_settings.HANDLER_MODULE)
