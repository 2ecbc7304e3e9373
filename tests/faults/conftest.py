"""The fault matrix runs real polls over real HTTP against the sandbox feed."""

from tests.faults.fixtures import fast_timeouts, feed, make_org, redis_cache

__all__ = ["fast_timeouts", "feed", "make_org", "redis_cache"]
