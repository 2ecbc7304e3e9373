from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis as redis_lib


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real redis-server's URL (started by tests.plugin for this run)."""
    return os.environ["CIPDASH_TEST_REDIS_URL"]


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis_lib.Redis]:
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
