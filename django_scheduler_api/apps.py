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
        # Nothing is installed into django-q2's workers here: a worker that runs a scheduler task
        # warms itself up at the first one (engine.handler_threads.warm_up).
