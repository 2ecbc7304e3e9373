"""The database's own upkeep and tuning: SQLite's checkpoints run by beat, not by the polls;
PostgreSQL's JSON compressed with lz4; SQLite's index for a poll's reads."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls import tasks
from calls.invoca.decoding import current_calls_read
from calls.services import poll_result_ingest
from cipdash.celery import app
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _pragma(name: str) -> tuple[int, ...]:
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return tuple(cursor.fetchone())


def _some_calls_written() -> None:
    org = OrganizationFactory.create()
    body = {"current_calls": [call_payload(f"T{i}") for i in range(50)]}
    result = current_calls_read(json.dumps(body).encode())
    poll_result_ingest(organization=org, result=result, started_at=T0, finished_at=T0)


@pytest.mark.django_db(transaction=True)  # committed writes, as the polls make them
def test_a_periodic_task_copies_sqlites_log_into_the_database_file():
    schedule = {entry["task"]: entry for entry in app.conf.beat_schedule.values()}
    if connection.vendor == "postgresql":  # its own checkpointer does this
        assert "calls.tasks.database_checkpoint" not in schedule
        with CaptureQueriesContext(connection) as queries:
            tasks.database_checkpoint_task()
        assert queries.captured_queries == []
        return
    entry = schedule["calls.tasks.database_checkpoint"]
    assert entry["schedule"].total_seconds() == settings.SQLITE_CHECKPOINT_SECONDS
    assert _pragma("journal_mode") == ("wal",)
    # A poll's commit leaves the checkpoint to the task, up to this many pages of log.
    assert _pragma("wal_autocheckpoint") == (settings.SQLITE_WAL_AUTOCHECKPOINT_PAGES,)
    _some_calls_written()
    with CaptureQueriesContext(connection) as queries:
        tasks.database_checkpoint_task()
    assert [q["sql"] for q in queries.captured_queries] == ["PRAGMA wal_checkpoint(PASSIVE)"]
    # (busy, pages in the log, pages copied): the task left nothing to copy.
    busy, logged, copied = _pragma("wal_checkpoint(PASSIVE)")
    assert busy == 0 and logged == copied
    assert logged > 0


def test_no_checkpoint_is_tried_inside_a_transaction():
    """SQLite refuses one there; the next run of the task, outside any, does it."""
    with CaptureQueriesContext(connection) as queries:
        tasks.database_checkpoint_task()
    assert queries.captured_queries == []


def test_json_columns_are_compressed_with_lz4_on_postgresql():
    if connection.vendor != "postgresql":  # SQLite compresses nothing: the migration is a no-op
        migration = importlib.import_module("calls.migrations.0005_json_lz4_compression")
        editor = SimpleNamespace(connection=connection)  # all the migration reads of it
        with CaptureQueriesContext(connection) as queries:
            migration._compression_set("lz4")(None, editor)
        assert queries.captured_queries == []
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute"
            " WHERE attrelid IN ('calls_call'::regclass, 'calls_callsnapshot'::regclass)"
            " AND (atttypid = 'jsonb'::regtype OR attname = 'payload')"
        )
        columns = cursor.fetchall()
    assert len(columns) == 7
    assert {compression for _table, _column, compression in columns} == {"l"}


def test_a_polls_reads_of_the_live_calls_come_from_one_index_on_sqlite():
    from calls.models import Call

    reads = Call.objects.filter(organization_id=1, ended_at__isnull=True).values_list(
        "transaction_id", "pk", "raw_hash", "content_hash", "missed_polls", "sighting_current"
    )
    plan = reads.explain()
    if connection.vendor == "postgresql":
        assert "calls_call_live_known_idx" not in plan  # would only slow its writes
    else:
        assert "COVERING INDEX calls_call_live_known_idx" in plan
