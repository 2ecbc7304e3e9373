"""SQLite backend that batches bulk statements by the library's real variable limit.

Django assumes SQLite's historical 999-variable limit, which splits one poll's bulk insert
into dozens of statements; modern SQLite builds allow far more, and asking the connection
keeps a poll's statement count constant in the number of calls (bench/ingest.py: 6 for a poll
that changes nothing, 12 for the 10/5/5 % mix, at 500 and 5,000 calls alike; at 999
variables the 5,000-call mix's 750 written calls and their snapshots take 27 statements
instead of 2). The database file and its companions are kept private to the user running
cipdash.

Django documents subclassing a backend; what is not documented is the shape relied on here
(`max_query_params` a plain class attribute, `get_new_connection(conn_params)`,
`creation.is_in_memory_db`): Django is pinned to 5.2 (pyproject.toml) and
tests/test_upstream_shapes.py checks them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from django.db.backends.sqlite3 import base, features

from cipdash.env import owner_only, private_file


class DatabaseFeatures(features.DatabaseFeatures):
    @property
    def max_query_params(self) -> int:  # type: ignore[override]
        connection = self.connection.connection
        if connection is None:
            return 999
        return int(connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


def _keep_private(database: Path) -> None:
    """The database holds callers' numbers and data: this user only. SQLite gives the
    write-ahead log and shared-memory files the database file's mode, so creating the file
    0600 first covers them; older files are tightened."""
    try:
        private_file(database)
    except OSError:
        return  # SQLite's own error says better why the file cannot be opened
    for suffix in ("-wal", "-shm"):
        owner_only(database.with_name(database.name + suffix), 0o600)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        name = conn_params["database"]
        if not self.creation.is_in_memory_db(name) and not str(name).startswith("file:"):
            _keep_private(Path(name))
        return super().get_new_connection(conn_params)
