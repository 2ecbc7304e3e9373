"""Upkeep of the database itself."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection

# When this process last checkpointed (beat runs one process: its ticks call this).
_checkpointed_at: float | None = None


def database_checkpoint(*, force: bool = False) -> bool:
    """SQLite: copy the write-ahead log into the database file, at most once every
    SQLITE_CHECKPOINT_SECONDS (each copy ends in fsyncs, which other writers feel), so that
    the log stays short and no poll's commit has to (cipdash.settings). PASSIVE waits for no
    reader or writer; what it cannot copy yet, the next one does. PostgreSQL checkpoints by
    itself: nothing to do. Answers whether it ran."""
    global _checkpointed_at
    # Not from inside a transaction (a test's, or a caller's), where SQLite refuses it: the
    # next call from beat's own connection, always outside one, does it.
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return False
    now = time.monotonic()
    period = settings.SQLITE_CHECKPOINT_SECONDS
    if not force and _checkpointed_at is not None and now - _checkpointed_at < period:
        return False
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
    _checkpointed_at = now
    return True
