"""The per-organization poll lock: at most one request to Invoca per organization at a time,
whichever door asks (scheduled poll, `manage.py poll`, Poll now, Test connection, a lookup).
It lives in the cache (Redis in production, the database cache embedded), taken with
`cache.add` and given an expiry so that a killed worker cannot stop its organization's
polling for longer than one lock period. Only its holder releases it, in one atomic step:
a holder whose lock expired and was taken by another poll leaves the new holder's lock alone.

A poll's budget (its request, its waits for the database, its ingest) is shorter than the
lock's life, so a poll never runs unlocked; should one still outlive its lock, it does not
apply its answer (calls.services.polling)."""

from __future__ import annotations

import base64
import math
import pickle
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import connections, router

# What an ingest of the largest answer costs beyond its waits for the database, with room.
POLL_INGEST_SECONDS = 15.0
# Between the poll's budget and the lock's expiry: the task's hard time limit falls here.
POLL_LOCK_MARGIN_SECONDS = 10.0

_RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class PollInProgress(Exception):
    """Another poll of the organization holds its lock."""

    def __init__(self) -> None:
        super().__init__("A poll of this organization is in progress; try again in a moment.")


def poll_lock_key(organization_id: int) -> str:
    return f"cipdash:poll-lock:{organization_id}"


def poll_budget_seconds() -> float:
    """The longest a poll may take while it holds its lock: its request (the client's total
    deadline, host name lookup included), the ingest's wait for the database's write lock
    (SQLite's busy timeout, PostgreSQL's lock_timeout) and the ingest itself."""
    return settings.POLL_TOTAL_TIMEOUT + settings.DATABASE_LOCK_WAIT_SECONDS + POLL_INGEST_SECONDS


def poll_lock_seconds() -> int:
    return int(poll_budget_seconds() + 2 * POLL_LOCK_MARGIN_SECONDS)


def poll_task_time_limits() -> tuple[int, int]:
    """(soft, hard) limits of the poll task in seconds, both inside the lock's life. Only
    Celery's prefork pool enforces them; under the threads pool the budget above is the
    guarantee."""
    soft = math.ceil(poll_budget_seconds())
    return soft, soft + int(POLL_LOCK_MARGIN_SECONDS)


def interactive_lock_wait_seconds() -> float:
    """How long a person's request (Poll now, Test connection, a lookup) waits for a poll in
    flight before it is told to try again."""
    return float(settings.POLL_INTERACTIVE_LOCK_WAIT_SECONDS)


@dataclass(frozen=True, slots=True)
class PollLease:
    """A held lock. The lease ends before the cache's expiry does: it is counted from just
    before the lock was taken."""

    organization_id: int
    owner: int
    expires_at: float  # time.monotonic()

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.expires_at


def poll_lock_take(*, organization_id: int, wait_seconds: float = 0.0) -> PollLease | None:
    """The organization's lock, waiting up to `wait_seconds` for it; None if another holds it."""
    key = poll_lock_key(organization_id)
    # An int: Django's Redis cache stores it as plain digits, which the release script compares.
    owner = secrets.randbits(62)
    seconds = poll_lock_seconds()
    deadline = time.monotonic() + wait_seconds
    while True:
        asked_at = time.monotonic()
        if caches[DEFAULT_CACHE_ALIAS].add(key, owner, timeout=seconds):
            return PollLease(organization_id, owner, asked_at + seconds)
        if asked_at >= deadline:
            return None
        time.sleep(min(0.1, max(0.0, deadline - asked_at)))


def poll_lock_release(lease: PollLease) -> bool:
    """Delete the lock if `lease` still holds it, as one atomic step. True if it did.

    Django's cache API has no compare-and-delete, so on Redis the script goes through the
    cache's own client (the private `_cache.get_client`; Django is pinned to 5.2 and
    tests/test_upstream_shapes.py checks it): a get then a delete would let a poll whose lock
    expired delete the next holder's."""
    key = poll_lock_key(lease.organization_id)
    cache = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        client = cache._cache.get_client(full_key, write=True)
        return bool(client.eval(_RELEASE_SCRIPT, 1, full_key, str(lease.owner)))
    if isinstance(cache, DatabaseCache):
        return _database_cache_release(cache, key, lease.owner)
    raise TypeError(f"the poll lock needs the Redis or the database cache, not {type(cache)}")


def _database_cache_release(db_cache: DatabaseCache, key: str, owner: int) -> bool:
    # The row holds the value as DatabaseCache writes it: base64 of its pickle (undocumented;
    # Django is pinned to 5.2 and tests/test_upstream_shapes.py checks it).
    value = base64.b64encode(pickle.dumps(owner, db_cache.pickle_protocol)).decode("latin1")
    connection = connections[router.db_for_write(db_cache.cache_model_class)]
    table = connection.ops.quote_name(db_cache.cache_model_class._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE cache_key = %s AND value = %s",  # noqa: S608
            [db_cache.make_and_validate_key(key), value],
        )
        return bool(cursor.rowcount == 1)


@contextmanager
def organization_poll_lock(
    *, organization_id: int, wait_seconds: float = 0.0
) -> Iterator[PollLease | None]:
    """Yield the lease while this caller holds the organization's lock, None when another
    does (after waiting up to `wait_seconds` for it); released on exit by its holder only."""
    lease = poll_lock_take(organization_id=organization_id, wait_seconds=wait_seconds)
    try:
        yield lease
    finally:
        if lease is not None:
            poll_lock_release(lease)
