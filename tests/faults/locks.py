"""The poll lock as the fault tests see it from outside: make one run out, as its life would."""

from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from calls.services.poll_lock import poll_lock_key


def poll_lock_expire(organization_id: int) -> None:
    """The lock of `organization_id` in the database cache runs out now (its holder died)."""
    table = connection.ops.quote_name("cipdash_cache")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET expires = %s WHERE cache_key = %s",  # noqa: S608
            [
                timezone.now() - timedelta(seconds=1),
                cache.make_and_validate_key(poll_lock_key(organization_id)),
            ],
        )
        assert cursor.rowcount == 1, "no lock to expire"
