from django.apps import AppConfig


class ChaosConfig(AppConfig):
    name = "bench.chaos"
    label = "chaos"

    def ready(self) -> None:
        from bench.chaos import barrier

        barrier.install()  # only in the suite's schedulers (CHAOS_BARRIER in their environment)
