"""Settings of the benchmarks: the test settings (same env switches) plus the benchmark handlers.

``SCHEDULER_TEST_Q_WORKERS`` sets the workers, ``SCHEDULER_TEST_DB``/``SCHEDULER_TEST_BROKER`` the
services; see tests/settings.py.
"""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.benchapp"]  # noqa: F405
# django-q2 workers call close_old_connections() before every task: without a connection lifetime
# each task would open a new database connection. Production settings should do the same.
DATABASES["default"]["CONN_MAX_AGE"] = None  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
