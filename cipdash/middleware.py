"""Project-wide response policies."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django_htmx.http import HttpResponseClientRedirect

log = logging.getLogger("cipdash.web")

# Seconds after which a browser or load balancer may try a page again while the database is
# away: a restart or a failover usually takes about this long.
DATABASE_RETRY_AFTER_SECONDS = 15

# Only our own scripts and styles run: htmx is served from our static files, never a CDN.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Django's own error pages (DEBUG) use inline styles; leave them readable.
        if not (settings.DEBUG and response.status_code >= 500):
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class HtmxLoginRedirectMiddleware:
    """An htmx request that lost its session would swap the login page into a table row;
    send the whole browser to the login page instead."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        login_url = resolve_url(settings.LOGIN_URL)
        if (
            getattr(request, "htmx", False)
            and response.status_code == 302
            and response.headers.get("Location", "").startswith(login_url)
        ):
            return HttpResponseClientRedirect(response.headers["Location"])
        return response


class DatabaseUnavailableMiddleware:
    """While the database does not answer (a restart, a failover, a lost network), every page
    fails the same way: answer 503 with a short page saying so, instead of a server error per
    request. Load balancers read the 503 as "try elsewhere or later", htmx keeps the rows it
    shows, and the next request after the database is back is served as usual (Django drops
    the broken connection then). With DEBUG on, Django's own error page shows the traceback
    instead: in development such an error is more often a missing migration than an outage."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if settings.DEBUG or not isinstance(exception, OperationalError | InterfaceError):
            return None
        # One line with the database's own words (refused, shut down, no such table); Django
        # logs the 503 itself.
        log.warning("database unavailable: %s: %s", type(exception).__name__, exception)
        # Rendered without the request: its context processors would ask the database for
        # the user.
        response = HttpResponse(render_to_string("unavailable.html"), status=503)
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        response.headers["Cache-Control"] = "no-store"
        return response
