"""What every live page shares: the version handshake that lets an unchanged poll answer 204."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django_htmx.middleware import HtmxDetails

VERSION_HEADER = "X-Feed-Version"


class HtmxHttpRequest(HttpRequest):
    """A request after django-htmx's middleware (for type checking)."""

    htmx: HtmxDetails


def unchanged(request: HttpRequest, version: str) -> bool:
    """True when an htmx poll already shows this version: answer it without rendering."""
    return bool(getattr(request, "htmx", False)) and request.headers.get(VERSION_HEADER) == version


def no_change_response() -> HttpResponse:
    response = HttpResponse(status=204)
    add_never_cache_headers(response)
    return response


def live_headers(response: HttpResponse) -> HttpResponse:
    """Pages and fragments share a URL, so caches must key on HX-Request, and neither is
    ever stale-cached."""
    patch_vary_headers(response, ["HX-Request"])
    add_never_cache_headers(response)
    return response
