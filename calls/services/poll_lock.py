"""The per-organization poll lock: at most one request to Invoca per organization at a time,
whichever worker, beat or command asks. It lives in the cache (Redis in production, the
database cache embedded), taken with `cache.add` and given an expiry so that a killed worker
cannot stop its organization's polling for longer than one lock period."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache


def poll_lock_key(organization_id: int) -> str:
    return f"cipdash:poll-lock:{organization_id}"


def poll_lock_seconds() -> int:
    # Longer than the longest possible poll (the client's total timeout plus one read
    # timeout) and its ingest, so the lock is never lost mid-poll.
    return int(settings.POLL_TOTAL_TIMEOUT + settings.POLL_READ_TIMEOUT + 30)


@contextmanager
def organization_poll_lock(*, organization_id: int, wait_seconds: float = 0.0) -> Iterator[bool]:
    """Yield True when this caller holds the organization's lock, False when another does
    (after waiting up to `wait_seconds` for it)."""
    key = poll_lock_key(organization_id)
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + wait_seconds
    held = cache.add(key, owner, timeout=poll_lock_seconds())
    while not held and time.monotonic() < deadline:
        time.sleep(0.1)
        held = cache.add(key, owner, timeout=poll_lock_seconds())
    try:
        yield held
    finally:
        # Only the owner releases: a lock that expired and was taken by another poll stays.
        if held and cache.get(key) == owner:
            cache.delete(key)
