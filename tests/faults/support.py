"""Helpers shared by the fault and security tests (their fixtures: fixtures.py)."""

from __future__ import annotations

from dataclasses import dataclass

from calls import services
from calls.models import Call, Organization

CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 0.5
TOTAL_TIMEOUT = 1.0
# Connect, wait for headers, read the body, ingest: the most one poll may take here.
POLL_TIME_BOUND = CONNECT_TIMEOUT + READ_TIMEOUT + TOTAL_TIMEOUT + 1.0


@dataclass
class FeedOrganization:
    organization: Organization
    invoca_id: str
    token: str

    def fresh(self) -> Organization:
        self.organization.refresh_from_db()
        return self.organization


def poll(org: FeedOrganization | Organization) -> services.PollAttempt:
    organization = org.fresh() if isinstance(org, FeedOrganization) else org
    return services.organization_poll(organization=organization)


def ended_count() -> int:
    return Call.objects.filter(ended_at__isnull=False).count()


def redis_cache_settings(url: str) -> dict[str, dict[str, object]]:
    """CACHES as production sets them from REDIS_URL, with short timeouts for the tests."""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
