"""What the pages share: who is looking (one Viewer per request), and the version handshake
that lets an unchanged poll answer 204."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django_htmx.middleware import HtmxDetails

from calls.selectors.viewer import Viewer, viewer_get

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

VERSION_HEADER = "X-Feed-Version"


class HtmxHttpRequest(HttpRequest):
    """A request after django-htmx's middleware (for type checking)."""

    htmx: HtmxDetails


def request_viewer(request: HttpRequest) -> Viewer:
    """The signed-in user's organizations and roles: what every read of the page is scoped by."""
    return viewer_get(user=request.user)


def shown_version(request: HttpRequest) -> str | None:
    """The page version an htmx poll already shows (None for any other request): when it is
    still current the view answers 204 without rendering."""
    if not getattr(request, "htmx", False):
        return None
    return request.headers.get(VERSION_HEADER)


def page_context(page: DataclassInstance, **extra: object) -> dict[str, object]:
    """A page selector's dataclass as a template context, with what only the view adds."""
    return {field.name: getattr(page, field.name) for field in fields(page)} | extra


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
