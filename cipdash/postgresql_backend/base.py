"""PostgreSQL backend whose poll statements are prepared on the server.

A poll runs the same few statements every few seconds for each organization. Django's psycopg
cursors bind parameters on the client, so the text sent differs on every run and the server
parses each statement anew. A cursor from `prepared_cursor()` binds on the server instead, and
psycopg prepares a statement once it has run `prepare_threshold` times on a connection
(DATABASE_PREPARED_STATEMENTS in settings); the reads whose plan depends on their values stay
unprepared (calls.sql.rows_select's `planned_per_run`).
Every other query keeps Django's client-side binding, whose SQL (a parameter in a GROUP BY
expression, say) server-side binding does not always accept.

Django documents subclassing a backend; what is not documented is the shape relied on here
(`create_cursor(name)`, the module's `ServerBindingCursor`): Django is pinned to 5.2
(pyproject.toml) and tests/test_upstream_shapes.py checks them.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base, operations
from django.db.backends.utils import CursorWrapper


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str:
        # What connection.queries shows (DEBUG, tests). A statement run as prepared leaves
        # psycopg no text of its own: the statement is written out with its values instead.
        if isinstance(cursor, base.ServerBindingCursor):
            return str(self.compose_sql(sql, params))
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    # Set only while prepared_cursor() makes its cursor; a connection serves one thread.
    _binds_on_server = False

    def create_cursor(self, name: str | None = None) -> Any:
        if name is None and self._binds_on_server:
            return base.ServerBindingCursor(self.connection)  # type: ignore[call-arg]
        return super().create_cursor(name)

    def prepared_cursor(self) -> CursorWrapper:
        """A cursor like cursor()'s (health check, error wrapping, query logging) that binds
        its parameters on the server, so that statements it runs again get prepared."""
        self._binds_on_server = True
        try:
            return self.cursor()
        finally:
            self._binds_on_server = False
