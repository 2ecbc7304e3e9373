"""SQLite backend that batches bulk statements by the library's real variable limit.

Django assumes SQLite's historical 999-variable limit, which splits one poll's bulk insert
into dozens of statements; modern SQLite builds allow far more, and asking the connection
keeps a poll's statement count constant in the number of calls.
"""

from __future__ import annotations

import sqlite3

from django.db.backends.sqlite3 import base, features


class DatabaseFeatures(features.DatabaseFeatures):
    @property
    def max_query_params(self) -> int:  # type: ignore[override]
        connection = self.connection.connection
        if connection is None:
            return 999
        return int(connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
