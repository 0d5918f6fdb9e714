"""django-scheduler-api: a Quartz-style cron job scheduler for Django on django-q2 workers."""

__version__ = "0.2.0"

# ``handler`` is safe to import before the app registry is ready: registry.py imports no models.
from django_scheduler_api.registry import handler

__all__ = ["__version__", "handler"]
