"""Security tests poll the sandbox feed too: the same fixtures as the fault matrix."""

import pytest

from tests.faults.fixtures import fast_timeouts, feed, make_org, redis_cache

__all__ = ["fast_timeouts", "feed", "make_org", "redis_cache"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    # Personas are created per test; the real hasher's cost is not what these tests measure.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
