"""Cumulative tallies of polls and exports: what the counters and histograms of /metrics
count, whichever process (a web, a worker, `manage.py poll`) made the poll or the export.

Each adds itself with one upsert, in the caller's transaction: a poll whose transaction rolls
back is not counted, and no row is read first, so concurrent processes never lose a count."""

from __future__ import annotations

import functools
from typing import Any

from django.db.models import Model

from calls.metrics import (
    NO_HTTP_STATUS,
    NO_LAG_BUCKET,
    POLL_DURATION_BOUNDS,
    POLL_LAG_BOUNDS,
    bucket_index,
)
from calls.models import ExportTally, PollTally
from calls.sql import quoted_columns, quoted_table, statement_cursor


def poll_tally_add(
    *,
    organization_id: int,
    outcome: str,
    http_status: int | None,
    duration_seconds: float,
    lag_seconds: float | None,
) -> None:
    """Count one poll. `http_status` None: no answer; `lag_seconds` None: not a scheduled
    slot (a manual poll, a lookup)."""
    duration_seconds = max(0.0, duration_seconds)
    lag_bucket = NO_LAG_BUCKET
    if lag_seconds is not None:
        lag_seconds = max(0.0, lag_seconds)
        lag_bucket = bucket_index(lag_seconds, POLL_LAG_BOUNDS)
    _upsert(
        model=PollTally,
        key={
            "organization": organization_id,
            "outcome": outcome,
            "http_status": http_status or NO_HTTP_STATUS,
            "duration_bucket": bucket_index(duration_seconds, POLL_DURATION_BOUNDS),
            "lag_bucket": lag_bucket,
        },
        added={"count": 1, "duration_sum": duration_seconds, "lag_sum": lag_seconds or 0.0},
    )


def export_tally_add(*, door: str, rows: int) -> None:
    """Count one export from `door` and the rows it wrote."""
    _upsert(
        model=ExportTally,
        key={"door": door},
        added={"count": 1, "rows": rows},
    )


def _upsert(*, model: type[Model], key: dict[str, Any], added: dict[str, Any]) -> None:
    """INSERT the row, or add `added` to the row of the same key (both by field name): one
    statement on SQLite and PostgreSQL alike."""
    with statement_cursor() as cursor:
        cursor.execute(
            _upsert_sql(model, tuple(key), tuple(added)), [*key.values(), *added.values()]
        )


@functools.cache
def _upsert_sql(model: type[Model], key: tuple[str, ...], added: tuple[str, ...]) -> str:
    table = quoted_table(model)
    keys, sums = quoted_columns(model, key), quoted_columns(model, added)
    additions = ", ".join(f"{column} = {table}.{column} + excluded.{column}" for column in sums)
    # Names quoted from the model, values passed as parameters.
    return (
        f"INSERT INTO {table} ({', '.join(keys + sums)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * (len(keys) + len(sums)))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {additions}"
    )
