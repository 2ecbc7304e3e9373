"""Tests of the stand-alone sandbox feed (calls.sandbox). They need neither Django nor a database:

.venv/bin/python -m pytest tests/sandbox -p no:django -p no:cacheprovider -o addopts=""
"""

from __future__ import annotations

from typing import Any

import requests

from calls.sandbox import SandboxFeed

NETWORK_ID, NETWORK_TOKEN = "1001", "token-network-1001"
ADVERTISER_ID, ADVERTISER_TOKEN = "2002", "token-advertiser-2002"
CALLS_PATH = "/calls_in_progress/current_calls.json"
# Short enough to keep the suite fast, long enough for a loaded CI machine.
TIMEOUT = 5.0


def calls_url(feed: SandboxFeed) -> str:
    return feed.url + CALLS_PATH


def get_calls(
    feed: SandboxFeed,
    token: str | None = NETWORK_TOKEN,
    *,
    timeout: float | tuple[float, float] = TIMEOUT,
    stream: bool = False,
    **params: Any,
) -> requests.Response:
    """GET the calls endpoint as an organization's poller would (defaults: the Network org)."""
    query = {"organization_type": "Network", "id": NETWORK_ID}
    query.update(params)
    query = {key: value for key, value in query.items() if value is not None}
    headers = {"Authorization": token} if token is not None else {}
    return requests.get(
        calls_url(feed), params=query, headers=headers, timeout=timeout, stream=stream
    )


def get_advertiser_calls(feed: SandboxFeed, **params: Any) -> requests.Response:
    params = {"organization_type": "Advertiser", "id": ADVERTISER_ID, **params}
    return get_calls(feed, ADVERTISER_TOKEN, **params)


def two_org_feed(**kwargs: Any) -> SandboxFeed:
    """A started feed with a Network org and a slim Advertiser org."""
    feed = SandboxFeed(**kwargs)
    feed.add_organization(NETWORK_ID, NETWORK_TOKEN, "Network")
    feed.add_organization(ADVERTISER_ID, ADVERTISER_TOKEN, "Advertiser", slim=True, target_live=3)
    return feed.start()
