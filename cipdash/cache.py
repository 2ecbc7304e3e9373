"""Django's Redis cache, keeping its Redis clients.

Django builds a new `redis.Redis` for every cache operation, and each one builds its table
of ~200 response callbacks: about 0.13 ms, more than a round trip to a local Redis. A poll
makes three cache operations and a live-list refresh two, so here each connection pool keeps
one client. A client is as thread-safe as its pool, and Django's cache objects are per thread
anyway.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _ClientKeepingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django_client: Any = self  # the parent's helpers are not in its type stubs
        pool = django_client._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = django_client._client(connection_pool=pool)
        return client


class ClientKeepingRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ClientKeepingRedisCacheClient
