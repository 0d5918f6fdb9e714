"""The local-host guard for the scheduler's URLs (SPEC §3).

The API has no login: whoever can reach it can run any registered handler. So this middleware decides
who reaches it, before a view runs or a byte of the body is read:

1. the client address must be in ``ALLOWED_NETWORKS`` (403). ``X-Forwarded-For``/``Forwarded`` are
   believed only when the direct peer is one of ``TRUSTED_PROXIES``; then the client is the right-most
   address that is not a trusted proxy (the left-most ones are whatever the client chose to send);
2. a browser page of another site must not drive the API (403): an ``Origin`` that is not the
   server's own, or ``Sec-Fetch-Site: cross-site``, is refused. Together with the JSON-only body
   (a cross-site form cannot send ``application/json`` without a CORS preflight, which is refused as
   well) this replaces CSRF tokens, which an API without sessions does not have;
3. a body larger than ``MAX_BODY_SIZE`` is refused by its ``Content-Length`` (413), and a non-empty
   POST/PUT/PATCH body must be ``application/json`` (415).

It guards the views of this app only (recognised by the URL's app name), not the admin or the rest of
the project. Every refusal is JSON ``{"detail": ...}``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse

from django_scheduler_api.conf import scheduler_settings

APP_NAME = "django_scheduler_api"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class LocalOnlyMiddleware:
    """Refuse requests to the scheduler's views from elsewhere than the local host (SPEC §3)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if not is_guarded(request):
            return None
        return refuse_client(request) or refuse_cross_site(request) or refuse_body(request)


def is_guarded(request: HttpRequest) -> bool:
    """Whether the URL that matched belongs to this app (however and wherever it was included)."""
    match = getattr(request, "resolver_match", None)
    return match is not None and APP_NAME in match.app_names


def _refusal(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


# -- 1. The client's address ----------------------------------------------------------------------


def refuse_client(request: HttpRequest) -> HttpResponse | None:
    address = client_address(request.META)
    if address is not None and in_networks(address, _networks(tuple(scheduler_settings.ALLOWED_NETWORKS))):
        return None
    return _refusal(403, "The scheduler API is only available from the local host.")


def client_address(meta: dict[str, Any]) -> IPAddress | None:
    """The client's IP address, or None when it cannot be known (then nobody is let in)."""
    peer = parse_address(meta.get("REMOTE_ADDR", ""))
    proxies = _networks(tuple(scheduler_settings.TRUSTED_PROXIES))
    if peer is None or not in_networks(peer, proxies):
        return peer
    if meta.get("HTTP_FORWARDED"):
        hops = forwarded_for(meta["HTTP_FORWARDED"])
    else:
        hops = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    chain = [*hops, str(peer)]
    for raw in reversed(chain):
        address = parse_address(raw)
        if address is None or not in_networks(address, proxies):
            return address
    return parse_address(chain[0])


def forwarded_for(header: str) -> list[str]:
    """The ``for=`` nodes of an RFC 7239 ``Forwarded`` header, first hop first."""
    nodes = []
    for element in header.split(","):
        for pair in element.split(";"):
            key, _, value = pair.strip().partition("=")
            if key.strip().lower() == "for":
                nodes.append(value.strip().strip('"'))
    return nodes


def parse_address(raw: str) -> IPAddress | None:
    """An address from ``1.2.3.4``, ``1.2.3.4:80``, ``::1``, ``[::1]:80``; IPv4-mapped IPv6 is IPv4."""
    text = (raw or "").strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def in_networks(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


@lru_cache(maxsize=32)
def _networks(specs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(spec, strict=False) for spec in specs)


# -- 2. Cross-site browser requests ---------------------------------------------------------------


def refuse_cross_site(request: HttpRequest) -> HttpResponse | None:
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return _refusal(403, "Cross-site requests to the scheduler API are refused.")
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    try:
        own = f"{request.scheme}://{request.get_host()}"
    except DisallowedHost:
        return _refusal(400, "Invalid Host header.")
    if _origin_key(origin) != _origin_key(own):
        return _refusal(403, f"Requests from the origin {origin!r} are refused; only {own!r} may call.")
    return None


def _origin_key(origin: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) with the default port filled in, so ``http://h`` equals ``http://h:80``."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


# -- 3. The body ----------------------------------------------------------------------------------


def refuse_body(request: HttpRequest) -> HttpResponse | None:
    raw_length = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(raw_length)
    except ValueError:
        return _refusal(400, f"Invalid Content-Length: {raw_length!r}.")
    if length < 0:
        return _refusal(400, f"Invalid Content-Length: {raw_length!r}.")
    limit = scheduler_settings.MAX_BODY_SIZE
    if length > limit:
        return _refusal(413, f"The body has {length} bytes; the limit is {limit}.")
    if length and request.method in WRITE_METHODS:
        media_type = request.META.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            return _refusal(415, f"Send the body as application/json, not {media_type or 'untyped'}.")
    return None
