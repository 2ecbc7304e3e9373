"""The client's address as the trusted reverse proxies in front of cipdash report it.

Each proxy appends the address it received the request from to X-Forwarded-For, so with
PROXY_COUNT proxies the entry PROXY_COUNT places from the right is the address the outermost
trusted proxy saw. Entries further left were written by the client and are never believed.
Login throttling and the logs both name the client through `client_address`.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _normalised(address: str) -> str | None:
    """One spelling per address, so throttling cannot be dodged by writing it differently."""
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    connected = request.META.get("REMOTE_ADDR")
    proxy_count: int = settings.PROXY_COUNT
    if proxy_count == 0:
        return connected
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    entries = [entry for entry in forwarded.split(",") if entry.strip()]
    # Fewer entries than proxies: the request did not come through the whole trusted chain,
    # so nothing in the header is known to come from a proxy.
    if len(entries) < proxy_count:
        return connected
    return _normalised(entries[-proxy_count]) or connected
