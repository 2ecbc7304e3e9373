"""Bulk INSERT and upsert from ready-made rows of column values, without model instances.

A poll that brings hundreds of new or changed calls writes each one and a snapshot of it.
Through `bulk_create`, Django builds a model instance for each and prepares every field of
every instance through the field's methods: about twice what the SQL itself costs. Here the
callers build each row's values already in the database's form (`db_datetime`, `db_json`).

SQLite takes the rows as one multi-row INSERT. PostgreSQL takes many rows by COPY: a
multi-row INSERT of a poll's calls is megabytes of SQL text, each value quoted on the client
and parsed again on the server, which took two to four times as long as streaming the same
rows. An upsert on PostgreSQL copies into a temporary table of the same columns and upserts
from it. Each COPY is one statement, seen by `execute_wrapper`s and counted in
`connection.queries` like any other. A few rows (the usual poll: a handful of calls changed)
go to PostgreSQL as one JSON document instead, turned into rows of the table's type by
`jsonb_populate_recordset`: one parameter, written by orjson, where a multi-row INSERT has
one per value, each dumped by psycopg in Python, and a text psycopg parses again on every run
(it caches no statement of more than 50 parameters); the statement is the same for any number
of rows, so the server prepares it once.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from django.db import connection
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Model

from calls.jsoncolumns import CompactJSONEncoder
from calls.sql import fields_by_name, quoted_columns, quoted_table, statement_cursor


def db_datetime(value: datetime | None) -> Any:
    """A DateTimeField's value as this database takes it (SQLite: UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def db_json(value: Any) -> str:
    """A JSON column's value: compact text, as CompactJSONField writes it."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # what orjson cannot write, written (or refused) as the field would
        return CompactJSONEncoder().encode(value)


# From this many rows on, PostgreSQL takes them by COPY (bench/README.md, "Ingest"); fewer go
# as one JSON document, which cost less up to a hundred rows or two and more from a few hundred.
COPY_FROM_ROWS = 64


def _copy_worth_it(rows: Iterable[Sequence[Any]]) -> tuple[bool, Iterator[Sequence[Any]]]:
    """Whether `rows` are enough for a COPY on PostgreSQL, and the same rows (the first ones
    are read to tell, so a generator is not used up)."""
    rows = iter(rows)
    if connection.vendor != "postgresql":
        return False, rows
    head = list(itertools.islice(rows, COPY_FROM_ROWS))
    return len(head) == COPY_FROM_ROWS, itertools.chain(head, rows)


def rows_insert(model: type[Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """INSERT `rows` (values in `fields` order, in the database's form) into `model`'s table.
    A COPY is sent each row as it comes: a generator lets the server take in rows while the
    next ones are being built."""
    copy, rows = _copy_worth_it(rows)
    with statement_cursor() as cursor:
        if copy:
            _copy(cursor, quoted_table(model), quoted_columns(model, fields), rows)
        elif batch := list(rows):
            _few_rows_insert(cursor, model, fields, batch, tail="", returns_rows=False)


def rows_upsert(
    model: type[Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    """INSERT `rows` (as rows_insert takes them); a row that collides with a stored one on
    `conflict` overwrites its `update` columns instead. Answers the `returning` columns of
    every row, in no order."""
    columns = quoted_columns(model, update)
    tail = (
        f" ON CONFLICT ({', '.join(quoted_columns(model, conflict))}) DO UPDATE SET "
        + ", ".join(f"{column} = EXCLUDED.{column}" for column in columns)
        + f" RETURNING {', '.join(quoted_columns(model, returning))}"
    )
    copy, rows = _copy_worth_it(rows)
    with statement_cursor() as cursor:
        if copy:
            return _staged_upsert(cursor, model, fields, rows, tail=tail)
        batch = list(rows)
        if not batch:
            return []
        return _few_rows_insert(cursor, model, fields, batch, tail=tail, returns_rows=True)


def _few_rows_insert(
    cursor: CursorWrapper,
    model: type[Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    tail: str,
    returns_rows: bool,
) -> list[tuple[Any, ...]]:
    """PostgreSQL: the rows as one JSON document, unless they hold a value orjson refuses
    (text no UTF-8 encoder takes, an integer beyond 64 bits), which go as before; SQLite: a
    multi-row INSERT."""
    document = _json_document(model, fields, rows) if connection.vendor == "postgresql" else None
    statements: Iterable[tuple[str, list[Any]]] = (
        _values_statements(model, fields, rows, tail)
        if document is None
        else [(_json_insert_sql(model, tuple(fields), tail), [document])]
    )
    written: list[tuple[Any, ...]] = []
    for sql, params in statements:
        cursor.execute(sql, params)
        if returns_rows:
            written.extend(cursor.fetchall())
    return written


def _json_document(
    model: type[Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]
) -> str | None:
    """The rows as a JSON array of objects keyed by column; a JSON column's value (its text,
    from db_json) goes in as that JSON, not as a string. None if orjson refuses a value."""
    shape = _json_shape(model, tuple(fields))
    records = [
        {
            column: orjson.Fragment(value) if as_json and value is not None else value
            for (column, as_json), value in zip(shape, row, strict=True)
        }
        for row in rows
    ]
    try:
        return orjson.dumps(records).decode()
    except TypeError:
        return None


@functools.cache
def _json_shape(model: type[Model], fields: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
    """Each field's column and whether it is a JSON column."""
    by_name = fields_by_name(model)
    return tuple(
        (str(by_name[name].column), by_name[name].get_internal_type() == "JSONField")
        for name in fields
    )


@functools.cache
def _json_insert_sql(model: type[Model], fields: tuple[str, ...], tail: str) -> str:
    table = quoted_table(model)
    columns = ", ".join(quoted_columns(model, fields))
    # Identifiers from the model's own metadata, quoted; the rows are the one parameter.
    return (
        f"INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608
        f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb){tail}"
    )


def _values_statements(
    model: type[Model], fields: Sequence[str], rows: Sequence[Sequence[Any]], tail: str
) -> Iterator[tuple[str, list[Any]]]:
    """Multi-row INSERTs of the rows, each value a parameter, and their parameters."""
    # Identifiers from the model's own metadata, quoted; every value is a parameter.
    head = f"INSERT INTO {quoted_table(model)} ({', '.join(quoted_columns(model, fields))}) VALUES "  # noqa: S608
    row_sql = f"({', '.join(['%s'] * len(fields))})"
    # One statement for a poll's rows whenever the database takes that many parameters
    # (cipdash.sqlite_backend asks SQLite for its real limit).
    limit = connection.features.max_query_params
    per_statement = max(1, limit // len(fields)) if limit else len(rows)
    for start in range(0, len(rows), per_statement):
        batch = rows[start : start + per_statement]
        yield head + ", ".join([row_sql] * len(batch)) + tail, [v for row in batch for v in row]


def _staged_upsert(
    cursor: CursorWrapper,
    model: type[Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    tail: str,
) -> list[tuple[Any, ...]]:
    """PostgreSQL: COPY into a temporary table with the same columns, then upsert from it."""
    quoted = quoted_columns(model, fields)
    columns = ", ".join(quoted)
    # Named after the columns, so that a connection kept across a migration never reuses a
    # table of the old shape. Its rows go at the end of the transaction, whichever way it ends.
    digest = hashlib.blake2b(columns.encode(), digest_size=4).hexdigest()
    stage = connection.ops.quote_name(f"stage_{model._meta.db_table}_{digest}")
    create = (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS"  # noqa: S608
        f" AS SELECT {columns} FROM {quoted_table(model)} WITH NO DATA"
    )
    cursor.execute(create)
    _copy(cursor, stage, quoted, rows)
    # Emptied as it is read, so that a second upsert in the same transaction starts afresh.
    cursor.execute(
        f"WITH staged AS (DELETE FROM {stage} RETURNING {columns})"  # noqa: S608 (identifiers)
        f" INSERT INTO {quoted_table(model)} ({columns}) SELECT {columns} FROM staged{tail}"
    )
    written: list[tuple[Any, ...]] = cursor.fetchall()
    return written


def _copy(
    cursor: CursorWrapper, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """PostgreSQL's COPY FROM STDIN of `rows`, as one statement that execute_wrappers see and
    connection.queries counts. The wrappers are shown the statement without its rows: a
    wrapper that looked at them (to log them, say) would use up a generator before the COPY.

    Django has no public way to run a COPY through its wrappers: this uses the cursor's
    private `_execute_with_wrappers` and the connection's `validate_no_broken_transaction`
    and `wrap_database_errors`, for the PostgreSQL ingest (the 10/5/5 % mix's rows: 40 to
    60 ms by COPY against 85 to 190 ms as a multi-row INSERT, bench/README.md "Ingest").
    Django is pinned to 5.2 and tests/test_upstream_shapes.py checks their shape."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"

    def copy_rows(sql: str, _params: None, *_wrapper_args: Any) -> None:
        connection.validate_no_broken_transaction()
        with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

    if isinstance(cursor, CursorDebugWrapper):
        with cursor.debug_sql(sql):
            cursor._execute_with_wrappers(sql, None, many=False, executor=copy_rows)
    else:
        cursor._execute_with_wrappers(sql, None, many=False, executor=copy_rows)
