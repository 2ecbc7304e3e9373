"""/metrics for Prometheus: the whole system's counters, histograms and gauges.

Off (404) unless METRICS_TOKEN or METRICS_ALLOWED_IPS is set. A scraper is let in by its
address (METRICS_ALLOWED_IPS, the client as the trusted proxies report it) or by
`Authorization: Bearer <METRICS_TOKEN>`; anyone else gets 401 (403 when no token is set,
since no header could help). No session, no login: Prometheus has neither."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from calls.selectors.metrics import metrics_text
from cipdash.proxy import client_address

_BEARER = "bearer "


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token: str = settings.METRICS_TOKEN
    if not token and not settings.METRICS_ALLOWED_IPS:
        return HttpResponse("Not found.\n", status=404, content_type="text/plain")
    if not (_address_allowed(request) or _bearer_matches(request, token)):
        return _refusal(bearer_possible=bool(token))
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)


def _address_allowed(request: HttpRequest) -> bool:
    address = client_address(request)
    if not address or not settings.METRICS_ALLOWED_IPS:
        return False
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(client in network for network in settings.METRICS_ALLOWED_IPS)


def _bearer_matches(request: HttpRequest, token: str) -> bool:
    if not token:
        return False
    header = request.headers.get("Authorization", "")
    if header[: len(_BEARER)].lower() != _BEARER:
        return False
    offered = header[len(_BEARER) :].strip()
    # Constant time: how long a wrong token took to refuse tells nothing about the right one.
    return hmac.compare_digest(offered.encode(), token.encode())


def _refusal(*, bearer_possible: bool) -> HttpResponse:
    if not bearer_possible:
        return HttpResponse("Forbidden.\n", status=403, content_type="text/plain")
    response = HttpResponse("A metrics token is needed.\n", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = 'Bearer realm="cipdash metrics"'
    return response
