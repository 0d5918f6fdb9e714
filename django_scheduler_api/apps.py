"""App configuration: discovers handler modules and registers the system checks."""

from django.apps import AppConfig


class SchedulerApiConfig(AppConfig):
    name = "django_scheduler_api"
    verbose_name = "Scheduler"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_scheduler_api import checks  # noqa: F401  (registers the checks)
        from django_scheduler_api.registry import autodiscover

        autodiscover()
