"""Counting rows into time bins inside the database: a moment's bin is its whole seconds since
a window's start divided by the bin's width, worked out in SQL on SQLite and PostgreSQL alike.
A chart then reads one row per bin that has rows, never one per call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import Expression, F, Func, IntegerField, QuerySet, TextField, Value
from django.db.models.functions import Greatest

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


class EpochSeconds(Func):
    """Whole seconds since 1970 of a datetime expression."""

    arity = 1
    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="unixepoch(%(expressions)s)", **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)"
        return self.as_sql(compiler, connection, template=template, **extra)


def _sqlite_json_path(keys: Iterable[str]) -> str:
    """`$."a"."b"`: each key quoted, so that dots or quotes in a field's name stay in it."""
    return "$" + "".join(f".{json.dumps(key)}" for key in keys)


class JSONText(Func):
    """The text at `keys` inside a JSON column (NULL where absent), read once per row:
    Django's KeyTextTransform reads SQLite's JSON up to three times to tell types apart,
    which a group label does not need."""

    output_field = TextField()

    def __init__(self, column: str, *keys: str) -> None:
        super().__init__(F(column))
        self.keys = keys

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"json_extract({sql}, %s)", (*params, _sqlite_json_path(self.keys))

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} #>> %s::text[])", (*params, list(self.keys))


def epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp() // 1)


@dataclass(frozen=True, slots=True)
class Bins:
    """`count` bins of `width` from `start`: the minutes of a day, the hours of a day."""

    start: datetime
    width: timedelta
    count: int

    @property
    def end(self) -> datetime:
        return self.start + self.width * self.count

    def moments(self) -> list[datetime]:
        return [self.start + self.width * index for index in range(self.count)]

    def index_of(self, moment: datetime) -> int:
        """The bin holding `moment` (may fall outside 0..count-1)."""
        return int((moment - self.start) // self.width)

    def index(self, field: str | Expression) -> Expression:
        """SQL for the bin of a datetime column; moments before the start fall in bin 0."""
        moment = F(field) if isinstance(field, str) else field
        seconds = EpochSeconds(moment) - Value(epoch_seconds(self.start))
        width = int(self.width.total_seconds())
        # Integer division truncates towards zero in both databases: clamp negatives after it.
        return Greatest(seconds / Value(width), Value(0), output_field=IntegerField())

    def tally(self, rows: Iterable[tuple[int, int]]) -> list[int]:
        """Counts per bin from (bin, count) rows; bins past the end are left out."""
        counts = [0] * self.count
        for index, count in rows:
            if 0 <= index < self.count:
                counts[index] += count
        return counts


def counted_rows(queryset: QuerySet[Any, Any]) -> list[tuple[Any, ...]]:
    """The rows of a grouped count as the database returns them (integers and text), for
    the thousands of bins of a chart: Django's per-row value converters, which these
    columns do not need, cost more than the query itself."""
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows
