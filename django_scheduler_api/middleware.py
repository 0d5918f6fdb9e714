"""The local-host guard for the scheduler's URLs (SPEC §3). First version: client address only."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from django_scheduler_api.conf import scheduler_settings


def _is_scheduler_view(view_func: Callable) -> bool:
    cls = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    module = (cls or view_func).__module__
    return module.startswith("django_scheduler_api.")


class LocalOnlyMiddleware:
    """Refuse (403 JSON) requests to the scheduler's views from clients outside the allowed networks."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not _is_scheduler_view(view_func):
            return None
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            address = None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        networks = [ipaddress.ip_network(n) for n in scheduler_settings.ALLOWED_NETWORKS]
        if address is not None and any(address in n for n in networks):
            return None
        return JsonResponse(
            {"detail": "The scheduler API is only available from the local host."}, status=403
        )
