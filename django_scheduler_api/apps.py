"""App configuration: discovers handler modules, registers the system checks, warms up workers."""

from django.apps import AppConfig


class SchedulerApiConfig(AppConfig):
    name = "django_scheduler_api"
    verbose_name = "Scheduler"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from django_scheduler_api import checks  # noqa: F401  (registers the checks)
        from django_scheduler_api.engine.handler_threads import warm_up
        from django_scheduler_api.registry import autodiscover

        autodiscover()
        # Each django-q2 worker starts its handler threads when it starts, not at its first fire.
        post_spawn.connect(warm_up, dispatch_uid="django_scheduler_api.warm_up")
