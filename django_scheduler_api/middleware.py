"""The local-host guard for the scheduler's URLs (docs/api.rst, "Access").

The API has no login: whoever can reach it can run any registered handler. So this middleware decides
who reaches it, before a view runs or a byte of the body is read:

1. the client address must be in ``ALLOWED_NETWORKS`` (403). A request that carries a forwarding
   header (``Forwarded``, ``X-Forwarded-For``, ``X-Real-IP``) was relayed by a proxy: unless its direct
   peer is one of ``TRUSTED_PROXIES`` it is refused, because a reverse proxy on the same host would
   otherwise make every internet client look local. From a trusted proxy only ``FORWARDED_HEADER``
   (the one header the proxy sets) is believed, and the client is the right-most address in it that
   is not a trusted proxy; any other forwarding header came from the client, and is refused;
2. the ``Host`` header must be one of ``ALLOWED_HOSTS`` (400), checked here rather than left to
   ``CommonMiddleware``, which a project may not use;
3. a browser page of another site must not drive the API (403): an ``Origin`` that is not exactly
   the server's own serialized origin (RFC 6454), or without ``Origin`` a ``Referer`` of another
   origin, or ``Sec-Fetch-Site: cross-site``, is refused. Together with the JSON-only writes (a
   cross-site form cannot send ``application/json`` without a CORS preflight, which is refused as
   well) this replaces CSRF tokens, which an API without sessions does not have;
4. a body larger than ``MAX_BODY_SIZE`` is refused by its ``Content-Length`` (413), and a POST/PUT/PATCH
   that names a content type, even with no body, must name ``application/json`` (415): the form and
   ``text/plain`` types are the ones a page of another site can send without asking. (The one
   exception is the ``text/plain`` that the development server invents for a bodyless request.)

It guards the views of this app only (recognised by the URL's app name), not the admin or the rest of
the project. Every refusal is JSON ``{"detail": ...}``. The views run the same check themselves
(``guarded``): without the middleware the API is still closed, only a bad ``Host`` may then meet
``CommonMiddleware``'s HTML page first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from functools import lru_cache, wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import split_domain_port, validate_host
from django.urls import Resolver404, resolve

from django_scheduler_api import APP_NAME
from django_scheduler_api.conf import scheduler_settings

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The attribute that marks a request the guard has let through (a Python attribute: no client can
# set it), so that the view's own check does not repeat the middleware's.
GUARD_PASSED = "_scheduler_guard_passed"
DEFAULT_PORTS = {"http": 80, "https": 443}

# The headers by which proxies say whom they relay for, as their WSGI environ keys.
FORWARDING_HEADERS = {
    "forwarded": "HTTP_FORWARDED",
    "x-forwarded-for": "HTTP_X_FORWARDED_FOR",
    "x-real-ip": "HTTP_X_REAL_IP",
}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(Exception):
    """A request the guard turns away: the status and the sentence the client reads."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class LocalOnlyMiddleware:
    """Refuse requests to the scheduler's views from elsewhere than the local host.

    It checks in ``__call__``, before the middleware after it: placed before ``CommonMiddleware``
    (the README's ``MIDDLEWARE.insert(0, ...)``), a foreign ``Host`` gets this JSON 400 rather than
    Django's HTML page. The views check again themselves (``guarded``), so a project that forgot the
    middleware is closed all the same; a request checked here is not checked twice."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_guarded(request):
            refusal = refusal_of(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)


def is_guarded(request: HttpRequest) -> bool:
    """Whether the URL belongs to this app (however and wherever it was included): resolved here,
    since the middleware runs before Django resolves the URL."""
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return APP_NAME in match.app_names


def refusal_of(request: HttpRequest) -> JsonResponse | None:
    """The guard's JSON answer to a request it refuses, or None (the request was let through, and
    is marked so that the view does not check it again)."""
    if getattr(request, GUARD_PASSED, False):
        return None
    try:
        check_request(request)
    except Refused as refusal:
        return JsonResponse({"detail": refusal.detail}, status=refusal.status)
    setattr(request, GUARD_PASSED, True)
    return None


def guarded(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``view`` refusing what the middleware refuses, with the same check (``check_request``): the
    API fails closed when the project's ``MIDDLEWARE`` lacks the guard and its server runs no system
    checks (gunicorn does not run ``check``; issue 21). Every URL of the app is wrapped with it."""

    @wraps(view)
    def guarded_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refusal = refusal_of(request)
        return refusal if refusal is not None else view(request, *args, **kwargs)

    return guarded_view


def check_request(request: HttpRequest) -> None:
    """Raise ``Refused`` unless the request may reach a view of the API; the checks in order."""
    check_client(request.META)
    own = own_origin(request)
    check_cross_site(request, own)
    check_body(request)


# -- 1. The client's address ----------------------------------------------------------------------


def check_client(meta: dict[str, Any]) -> None:
    address = client_address(meta)
    if address is None or not in_networks(address, _networks(tuple(scheduler_settings.ALLOWED_NETWORKS))):
        raise Refused(403, "The scheduler API is only available from the local host.")


def client_address(meta: dict[str, Any]) -> IPAddress | None:
    """The client's IP address, or None when it cannot be known (then nobody is let in).

    Raises ``Refused`` for a relayed request that the settings do not allow to be believed.
    """
    peer = parse_address(meta.get("REMOTE_ADDR", ""))
    proxies = _networks(tuple(scheduler_settings.TRUSTED_PROXIES))
    present = [name for name, key in FORWARDING_HEADERS.items() if key in meta]
    if peer is None or not in_networks(peer, proxies):
        if present:
            raise Refused(
                403,
                f"The request was relayed by a proxy ({_title(present[0])} header) that is not "
                "trusted: list the proxy's address in SCHEDULER_API['TRUSTED_PROXIES'].",
            )
        return peer
    believed = str(scheduler_settings.FORWARDED_HEADER).lower()
    foreign = [name for name in present if name != believed]
    if foreign:
        raise Refused(
            403,
            f"The {_title(foreign[0])} header is not set by the trusted proxy "
            f"(SCHEDULER_API['FORWARDED_HEADER'] is {_title(believed)!r}); the client sent it.",
        )
    chain = [*relayed_for(believed, meta.get(FORWARDING_HEADERS[believed], "")), str(peer)]
    for raw in reversed(chain):
        address = parse_address(raw)
        if address is None or not in_networks(address, proxies):
            return address
    return parse_address(chain[0])


def relayed_for(header: str, value: str) -> list[str]:
    """The client addresses a forwarding header names, first hop first."""
    if header == "forwarded":
        return forwarded_for(value)
    return [part.strip() for part in value.split(",")] if value.strip() else []


def forwarded_for(header: str) -> list[str]:
    """The ``for=`` nodes of an RFC 7239 ``Forwarded`` header, first hop first."""
    return [value for key, value in forwarded_pairs(header) if key == "for"]


def forwarded_pairs(header: str) -> list[tuple[str, str]]:
    """The (lower-case key, unquoted value) pairs of an RFC 7239 ``Forwarded`` header, in order."""
    pairs = []
    for element in header.split(","):
        for pair in element.split(";"):
            key, _, value = pair.strip().partition("=")
            pairs.append((key.strip().lower(), value.strip().strip('"')))
    return pairs


def _title(header: str) -> str:
    return "-".join("IP" if part == "ip" else part.capitalize() for part in header.split("-"))


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


# -- 2. The host ----------------------------------------------------------------------------------


def own_origin(request: HttpRequest) -> str:
    """The server's origin as a browser serializes it (RFC 6454): ``scheme://host[:port]``, lower
    case, the port only when not the scheme's default. Validates ``Host`` against ``ALLOWED_HOSTS``."""
    try:
        host = request.get_host()
    except DisallowedHost:
        raise Refused(400, "Invalid Host header: it is not one of ALLOWED_HOSTS.") from None
    check_forwarded_hosts(request.META)
    scheme = request.scheme
    domain, port = split_domain_port(host)  # lower case; an IPv6 literal keeps its brackets
    if port and not 0 < int(port) < 65536:
        raise Refused(400, f"Invalid Host header: {host!r}.")
    if port and int(port) != DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{domain}:{int(port)}"
    return f"{scheme}://{domain}"


def check_forwarded_hosts(meta: dict[str, Any]) -> None:
    """Every host a proxy says the client asked for (``X-Forwarded-Host``, ``Forwarded: host=``)
    must be one of ``ALLOWED_HOSTS`` too. A proxy that sets ``Host`` to its upstream and passes the
    client's host in such a header would otherwise let a DNS-rebinding page read the API through it
    (issue 21, D3). Naming more hosts only adds checks: no header lets a request in that ``Host``
    refuses."""
    hosts = [part.strip() for part in meta.get("HTTP_X_FORWARDED_HOST", "").split(",") if part.strip()]
    hosts += forwarded_hosts(meta.get("HTTP_FORWARDED", ""))
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:  # as Django's own get_host() allows then
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    for host in hosts:
        domain, _port = split_domain_port(host)
        if not domain or not validate_host(domain, allowed):
            raise Refused(400, f"Invalid forwarded host {host!r}: it is not one of ALLOWED_HOSTS.")


def forwarded_hosts(header: str) -> list[str]:
    """The ``host=`` values of an RFC 7239 ``Forwarded`` header."""
    return [value for key, value in forwarded_pairs(header) if key == "host"]


# -- 3. Cross-site browser requests ---------------------------------------------------------------


def check_cross_site(request: HttpRequest, own: str) -> None:
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        raise Refused(403, "Cross-site requests to the scheduler API are refused.")
    origin = request.headers.get("Origin")
    if origin is not None:
        if origin != own:
            raise Refused(403, f"Requests from the origin {origin!r} are refused; only {own!r} may call.")
        return
    referer = request.headers.get("Referer")
    if referer is not None and referer_origin(referer) != own:
        raise Refused(403, f"Requests from the page {referer!r} are refused; only pages of {own!r} may call.")


def referer_origin(referer: str) -> str | None:
    """The serialized origin of a ``Referer`` URL, or None when it has none."""
    try:
        parts = urlsplit(referer)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and port != DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


# -- 4. The body ----------------------------------------------------------------------------------


def check_body(request: HttpRequest) -> None:
    raw_length = request.META.get("CONTENT_LENGTH") or "0"
    if not (raw_length.isascii() and raw_length.isdigit()):
        raise Refused(400, f"Invalid Content-Length: {raw_length!r}.")
    length = int(raw_length)
    limit = scheduler_settings.MAX_BODY_SIZE
    if length > limit:
        raise Refused(413, f"The body has {length} bytes; the limit is {limit}.")
    if request.method not in WRITE_METHODS:
        return
    content_type = request.META.get("CONTENT_TYPE", "")
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type == "application/json" or not (length or media_type):
        return
    if not length and _invented_by_wsgiref(request.META):
        return
    raise Refused(415, f"Send the body as application/json, not {media_type or 'untyped'}.")


def _invented_by_wsgiref(meta: dict[str, Any]) -> bool:
    """Whether ``CONTENT_TYPE`` is the ``text/plain`` that Python's ``wsgiref`` server (so Django's
    ``runserver``) puts in the environ of a request that sent no Content-Type: a bodyless
    ``curl -X POST`` to the development server must work. Production servers add nothing."""
    return meta.get("CONTENT_TYPE") == "text/plain" and str(meta.get("SERVER_SOFTWARE", "")).startswith(
        "WSGIServer/"
    )
