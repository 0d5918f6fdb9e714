"""URLs of the scheduler API. Mount them under any prefix, either way:

    from django_scheduler_api.urls import mount

    urlpatterns = [mount("scheduler/")]                                   # recommended
    urlpatterns = [path("scheduler/", include("django_scheduler_api.urls"))]   # also works

Both answer every path with and without a trailing slash. Only ``mount`` also answers the bare
prefix without its slash (``/scheduler``) itself; under ``include`` Django's ``APPEND_SLASH``
redirects it to ``/scheduler/``.
"""

from __future__ import annotations

from typing import Any

from django.urls import include
from django.urls.resolvers import RoutePattern, URLResolver

from django_scheduler_api import APP_NAME
from django_scheduler_api.api.urls import urlpatterns

app_name = APP_NAME

__all__ = ["app_name", "mount", "urlpatterns"]


class _PrefixPattern(RoutePattern):
    """A plain prefix such as ``scheduler/`` that also matches ``scheduler`` alone (the status)."""

    def match(self, path: str) -> tuple[str, tuple[Any, ...], dict[str, Any]] | None:
        if path == self._route.rstrip("/"):
            return "", (), {}
        return super().match(path)


def mount(prefix: str = "scheduler/", namespace: str | None = None) -> URLResolver:
    """The app's URLs under ``prefix`` (which must end with ``/``), the bare prefix included."""
    if not prefix.endswith("/"):
        raise ValueError(f"The prefix must end with '/': {prefix!r}")
    urlconf_module, app, instance = include("django_scheduler_api.urls", namespace=namespace)
    return URLResolver(_PrefixPattern(prefix), urlconf_module, app_name=app, namespace=instance)
