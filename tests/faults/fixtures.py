"""Fixtures for tests that poll the sandbox feed over real HTTP (faults, security).

Timeouts are cut to fractions of a second so that every fault that costs a timeout stays fast.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from django.test import override_settings

from calls.sandbox.clock import ManualClock
from calls.sandbox.server import SandboxFeed
from tests.factories import ApiTokenFactory, OrganizationFactory
from tests.faults.support import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    TOTAL_TIMEOUT,
    FeedOrganization,
    redis_cache_settings,
)

_invoca_ids = itertools.count(70001)


@pytest.fixture(autouse=True)
def fast_timeouts() -> Iterator[None]:
    with override_settings(
        POLL_CONNECT_TIMEOUT=CONNECT_TIMEOUT,
        POLL_READ_TIMEOUT=READ_TIMEOUT,
        POLL_TOTAL_TIMEOUT=TOTAL_TIMEOUT,
        POLL_BACKOFF_MAX_SECONDS=60.0,
    ):
        yield


@pytest.fixture
def feed() -> Iterator[SandboxFeed]:
    # A clock that stands still: generated calls never end on their own during a test.
    with SandboxFeed(seed=7, clock=ManualClock(), target_live=3) as running:
        yield running


@pytest.fixture
def make_org(feed: SandboxFeed) -> Callable[..., FeedOrganization]:
    """An organization both in the database and on the feed, with its token in each."""

    def make(**fields: object) -> FeedOrganization:
        invoca_id = str(next(_invoca_ids))
        token = f"sbx-token-{invoca_id}-9f8e7d6c5b4a"
        target_live = fields.pop("target_live", None)
        feed.add_organization(invoca_id, token, target_live=target_live)  # type: ignore[arg-type]
        fields.setdefault("api_base_url", feed.url)
        fields.setdefault("poll_interval_seconds", 1.0)
        organization = OrganizationFactory.create(invoca_id=invoca_id, **fields)
        ApiTokenFactory.create(organization=organization, secret=token)
        return FeedOrganization(organization, invoca_id, token)

    return make


@pytest.fixture
def redis_cache(redis_client: object, redis_url: str) -> Iterator[None]:
    """The cache (and so the poll locks) in the run's real redis-server, as in production."""
    with override_settings(CACHES=redis_cache_settings(redis_url)):
        yield
