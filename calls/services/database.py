"""Upkeep of the database itself."""

from __future__ import annotations

from django.db import connection


def database_checkpoint() -> None:
    """SQLite: copy the write-ahead log into the database file, so that the log stays short
    and no poll's commit has to (beat runs this every SQLITE_CHECKPOINT_SECONDS; see
    cipdash.settings). PASSIVE waits for no reader or writer; what it cannot copy yet, the
    next one does. PostgreSQL checkpoints by itself: nothing to do."""
    # Not from inside a transaction (a test's, or a caller's), where SQLite refuses it.
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
