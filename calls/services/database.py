"""Upkeep of the database itself."""

from __future__ import annotations

from django.db import connection


def database_checkpoint() -> None:
    """SQLite: copy the write-ahead log into the database file, so that the log stays short
    and no poll's commit has to (cipdash.settings: SQLITE_WAL_AUTOCHECKPOINT_PAGES). PASSIVE
    waits for no reader or writer; what it cannot copy yet, the next tick does. PostgreSQL
    checkpoints by itself: nothing to do."""
    # Not from inside a transaction (a test's, or a caller's), where SQLite refuses it: the
    # next call from beat's own connection, always outside one, does it.
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
