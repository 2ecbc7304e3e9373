"""Plain SQL text for a model's table: its quoted names, and fixed reads built once.

Shared by the writes of calls.services (bulk_sql, ingest) and the reads of calls.selectors:
a poll's reads and writes run every few seconds per organization, and a statement built
through the ORM costs several times what it costs to run."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model


def quoted_columns(model: type[Model], fields: Sequence[str]) -> list[str]:
    concrete = {field.name: field.column for field in model._meta.concrete_fields if field.column}
    return [connection.ops.quote_name(concrete[name]) for name in fields]


def quoted_table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def rows_select(
    model: type[Model], fields: tuple[str, ...], condition: str, params: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """The `fields` of `model`'s rows that meet `condition`, one tuple each, as the database
    gives them (SQLite: a boolean as 0 or 1). In `condition`, `{name}` stands for a field's
    quoted column and every value is a `%s` parameter. For the reads of every poll: built
    through the ORM, a statement costs several times what it costs to run; this one is
    written once per process."""
    with connection.cursor() as cursor:
        cursor.execute(_select_sql(model, fields, condition), params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


@functools.cache
def _select_sql(model: type[Model], fields: tuple[str, ...], condition: str) -> str:
    names = [field.name for field in model._meta.concrete_fields]
    columns = dict(zip(names, quoted_columns(model, names), strict=True))
    return (
        f"SELECT {', '.join(quoted_columns(model, fields))} FROM {quoted_table(model)} "  # noqa: S608
        f"WHERE {condition.format(**columns)}"
    )
