"""SQLite: an index holding everything a poll reads of an organization's live calls.

Every poll reads each live call's transaction id, digests, length, misses and sighting twice
(calls.selectors.polling, calls.services.ingest). SQLite keeps a call's row, a few kilobytes
of JSON, on a page of its own, so each read walked thousands of pages; from this index it
walks a few dozen, in half the time. PostgreSQL gains nothing from it (its index-only scans
wait on vacuum, and the table is updated all the time) and would pay for it on every write,
so it is left out there.
"""

from django.db import migrations

INDEX = "calls_call_live_known_idx"
COLUMNS = (
    "organization_id",
    "ended_at",
    "transaction_id",
    "raw_hash",
    "raw_size",
    "content_hash",
    "missed_polls",
    "sighting_current",
)


def _create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"CREATE INDEX {INDEX} ON calls_call ({', '.join(COLUMNS)})")


def _drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0005_json_lz4_compression"),
    ]

    operations = [migrations.RunPython(_create, _drop)]
