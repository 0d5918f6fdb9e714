"""django-scheduler-api: a Quartz-style cron job scheduler for Django on django-q2 workers."""

# ``handler`` is safe to import before the app registry is ready: registry.py imports no models.
from django_scheduler_api.registry import handler

__version__ = "0.2.0"

# The URL namespace of the app's URLs (``urls.app_name``): links are reversed in it and the local-only
# guard recognises the app's views by it, however the project includes them.
APP_NAME = "django_scheduler_api"

__all__ = ["APP_NAME", "__version__", "handler"]
