from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from calls.models import Organization
from calls.sandbox.server import SandboxFeed
from tests.factories import ApiTokenFactory, OrganizationFactory
from tests.invoca.conftest import FEED_ORG, FEED_TOKEN


@pytest.fixture
def redis_cache(redis_url: str, redis_client) -> Iterator[None]:
    """Django's cache on the real redis-server, as in production (locks, heartbeat)."""
    with override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url,
            }
        }
    ):
        yield


@pytest.fixture
def feed() -> Iterator[SandboxFeed]:
    with SandboxFeed(seed=5, target_live=0) as sandbox:
        sandbox.add_organization(FEED_ORG, FEED_TOKEN, target_live=0)
        yield sandbox


@pytest.fixture
def feed_org(feed: SandboxFeed) -> Organization:
    organization = OrganizationFactory.create(
        invoca_id=FEED_ORG, api_base_url=feed.url, poll_interval_seconds=5.0
    )
    ApiTokenFactory.create(organization=organization, secret=FEED_TOKEN)
    return organization
