"""Plain SQL text for a model's table: its quoted names, and fixed statements built once
(reads of rows or of whole model instances, a single row's insert or update).

Shared by the writes of calls.services (bulk_sql, ingest, polling) and the reads of
calls.selectors: a poll's reads and writes run every few seconds per organization, and a
statement built through the ORM costs several times what it costs to run."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from django.db import connection
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model
from django.db.models.expressions import Col

M = TypeVar("M", bound=Model)

# What Django's compiler calls on each value read: (value, column, connection) -> value.
Converter = Callable[[Any, Col, Any], Any]


def quoted_columns(model: type[Model], fields: Sequence[str]) -> list[str]:
    # Asked several times by every poll: quoted once per database kind.
    return list(_quoted_columns(model, tuple(fields), connection.vendor))


@functools.cache
def _quoted_columns(model: type[Model], fields: tuple[str, ...], _vendor: str) -> tuple[str, ...]:
    by_name = fields_by_name(model)
    return tuple(connection.ops.quote_name(str(by_name[name].column)) for name in fields)


def quoted_table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def rows_select(
    model: type[Model],
    fields: tuple[str, ...],
    condition: str,
    params: Sequence[Any],
    *,
    planned_per_run: bool = False,
) -> list[tuple[Any, ...]]:
    """The `fields` of `model`'s rows that meet `condition`, one tuple each, as the database
    gives them (SQLite: a boolean as 0 or 1). In `condition`, `{name}` stands for a field's
    quoted column and every value is a `%s` parameter. For the reads of every poll: built
    through the ORM, a statement costs several times what it costs to run; this one is
    written once per process.

    `planned_per_run`: never prepared (see statement_cursor), so that the database plans each
    run for its own values. For a read whose best plan depends on them: a plan PostgreSQL made
    once for any organization, from the statistics of a young calls table, went on reading
    every row of the table for one organization's live calls."""
    return _fetch(
        _select_sql(((model, fields),), f"WHERE {condition}"), params, prepared=not planned_per_run
    )


def instances_select(
    models: tuple[type[Model], ...], tail: str, params: Sequence[Any]
) -> list[list[Model | None]]:
    """Each row of `SELECT <every field of each of models> FROM <the first one's table>
    <tail>` as one instance of each model, its values as the ORM gives them (see
    `instance_from_row`); None for a model whose columns a LEFT JOIN left NULL. In `tail`,
    `{model_name}` stands for a model's quoted table, `{model_name[field]}` for a field's
    column, `{field}` for one of the first model's, and every value is a `%s` parameter.
    Written once per process, like rows_select."""
    selected = tuple((model, _field_names(model)) for model in models)
    return [list(_instances(models, row)) for row in _fetch(_select_sql(selected, tail), params)]


def instance_from_row(model: type[M], values: Sequence[Any]) -> M | None:
    """An instance of `model` from its concrete fields' values in their order, as a cursor
    gave them, converted as Django's compiler converts them (SQLite returns datetimes as text,
    booleans as 0 or 1; a JSON field's text is parsed on every database). None if its primary
    key is NULL."""
    if values[_pk_position(model)] is None:
        return None
    converted = list(values)
    for position, converters, column in _converters(model, connection.ops):
        value = converted[position]
        for convert in converters:
            value = convert(value, column, connection)
        converted[position] = value
    return model.from_db(connection.alias, _attnames(model), converted)


def instance_insert(instance: Model) -> None:
    """INSERT `instance` as a new row, its values prepared as Model.save() prepares them,
    and set the primary key the database assigned it (RETURNING: SQLite 3.35 on). Unlike
    save(), it sends no signals. Written once per process, like rows_select."""
    model = type(instance)
    fields = _inserted_fields(model)
    values = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    ((instance.pk,),) = _fetch(_insert_sql(model), values)
    instance._state.adding = False
    instance._state.db = connection.alias


def row_update(
    model: type[Model],
    pk: Any,
    values: Mapping[str, Any],
    *,
    increment: tuple[str, ...] = (),
    condition: str = "",
    params: Sequence[Any] = (),
) -> bool:
    """UPDATE `model`'s row `pk`: the fields of `values` (prepared as QuerySet.update()
    prepares them) and 1 more in each field of `increment`, if `condition` (as in
    rows_select, its values in the database's form) holds too. Whether the row was updated.
    Written once per process, like rows_select."""
    fields = fields_by_name(model)
    prepared = [fields[name].get_db_prep_save(value, connection) for name, value in values.items()]
    with statement_cursor() as cursor:
        cursor.execute(
            _update_sql(model, tuple(values), increment, condition), [*prepared, pk, *params]
        )
        return bool(cursor.rowcount)


def statement_cursor() -> CursorWrapper:
    """A cursor for the statements every poll runs: on PostgreSQL one whose statements get
    prepared on the server (cipdash/postgresql_backend); elsewhere the usual one."""
    prepared_cursor = getattr(connection, "prepared_cursor", None)
    return prepared_cursor() if prepared_cursor is not None else connection.cursor()


def _fetch(sql: str, params: Sequence[Any], *, prepared: bool = True) -> list[tuple[Any, ...]]:
    with statement_cursor() if prepared else connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


def _instances(models: tuple[type[Model], ...], row: tuple[Any, ...]) -> Iterator[Model | None]:
    start = 0
    for model in models:
        end = start + len(model._meta.concrete_fields)
        yield instance_from_row(model, row[start:end])
        start = end


class _Table:
    """A model's table in a statement's text: formatted, its quoted name; `table[field]`, the
    field's quoted column qualified by it."""

    def __init__(self, model: type[Model]) -> None:
        self.name = quoted_table(model)
        names = _field_names(model)
        self.columns = {
            name: f"{self.name}.{column}"
            for name, column in zip(names, quoted_columns(model, names), strict=True)
        }

    def __format__(self, spec: str) -> str:
        return self.name

    def __getitem__(self, field: str) -> str:
        return self.columns[field]


# Bounded: a condition may hold a list of placeholders as long as the values it is given.
@functools.lru_cache(maxsize=256)
def _select_sql(selected: tuple[tuple[type[Model], tuple[str, ...]], ...], tail: str) -> str:
    tables = {str(model._meta.model_name): _Table(model) for model, _ in selected}
    first = _Table(selected[0][0])
    columns = ", ".join(
        tables[str(model._meta.model_name)][name] for model, names in selected for name in names
    )
    return f"SELECT {columns} FROM {first} {tail.format(**first.columns, **tables)}"  # noqa: S608


@functools.cache
def _insert_sql(model: type[Model]) -> str:
    columns = quoted_columns(model, [field.name for field in _inserted_fields(model)])
    return (
        f"INSERT INTO {quoted_table(model)} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"RETURNING {_Table(model)[model._meta.pk.name]}"
    )


@functools.cache
def _update_sql(
    model: type[Model], fields: tuple[str, ...], increment: tuple[str, ...], condition: str
) -> str:
    table = _Table(model)
    # PostgreSQL takes no table name before a column that SET assigns.
    assigned = [f"{column} = %s" for column in quoted_columns(model, fields)]
    added = [f"{column} = {column} + 1" for column in quoted_columns(model, increment)]
    where = f"{table[model._meta.pk.name]} = %s"
    if condition:
        where += f" AND ({condition.format(**table.columns)})"
    return f"UPDATE {table} SET {', '.join(assigned + added)} WHERE {where}"  # noqa: S608


@functools.cache
def _inserted_fields(model: type[Model]) -> list[Field[Any, Any]]:
    """Every concrete field but the primary key, which the database assigns."""
    return [field for field in model._meta.concrete_fields if field is not model._meta.pk]


@functools.cache
def fields_by_name(model: type[Model]) -> dict[str, Field[Any, Any]]:
    """`model`'s concrete fields (each with a column) by name."""
    return {field.name: field for field in model._meta.concrete_fields}


@functools.cache
def _field_names(model: type[Model]) -> tuple[str, ...]:
    return tuple(field.name for field in model._meta.concrete_fields)


@functools.cache
def _attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


@functools.cache
def _pk_position(model: type[Model]) -> int:
    return model._meta.concrete_fields.index(model._meta.pk)


# Per connection: a backend's converters are methods of its connection's `ops`, and each
# thread has a connection of its own (a thread beyond the cache's size costs a recomputation).
@functools.lru_cache(maxsize=64)
def _converters(
    model: type[Model], ops: BaseDatabaseOperations
) -> list[tuple[int, list[Converter], Col]]:
    """The converters Django's compiler applies to each of `model`'s columns read whole, by
    position: the backend's for the column's type, then the field's `from_db_value`
    (SQLCompiler.get_converters; tests/test_upstream_shapes.py checks they are the same)."""
    found = []
    for position, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = ops.get_db_converters(column) + column.get_db_converters(ops.connection)
        if converters:
            found.append((position, converters, column))
    return found
