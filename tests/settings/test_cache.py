"""The Redis cache backend that keeps its clients, on a real redis-server."""

from __future__ import annotations

from cipdash.cache import ClientKeepingRedisCache


def test_operations_share_one_client_and_reach_redis(redis_url, redis_client):
    cache = ClientKeepingRedisCache(redis_url, {})
    assert cache.add("lock", "owner-1", timeout=30)
    assert not cache.add("lock", "owner-2", timeout=30)
    assert cache.get("lock") == "owner-1"
    cache.delete("lock")
    assert cache.get("lock") is None
    assert redis_client.dbsize() == 0
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is client
    assert cache._cache.get_client(write=False) is client  # one server: one pool
