"""PostgreSQL: compress the calls' and snapshots' JSON with lz4 rather than pglz.

A poll that changes hundreds of calls writes a few megabytes of JSON, most of it in values
large enough to be compressed; pglz spent about a third of the snapshot INSERT compressing
them, lz4 a fraction of that for much the same size. Only servers built with lz4 (PostgreSQL
14 and later, as packaged by Debian and the official images) offer it; elsewhere, and on
SQLite, nothing changes.
"""

from django.db import migrations

JSON_COLUMNS = {
    "calls_call": ("general", "custom_data", "demographics"),
    "calls_callsnapshot": ("general", "custom_data", "demographics", "payload"),
}


def _lz4_offered(cursor) -> bool:
    cursor.execute(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def _compression_set(method: str):
    def apply(apps, schema_editor) -> None:
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            if not _lz4_offered(cursor):
                return
            quote = connection.ops.quote_name
            for table, columns in JSON_COLUMNS.items():
                changes = ", ".join(
                    f"ALTER COLUMN {quote(column)} SET COMPRESSION {method}" for column in columns
                )
                cursor.execute(f"ALTER TABLE {quote(table)} {changes}")

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0004_call_sightings"),
    ]

    operations = [
        migrations.RunPython(_compression_set("lz4"), _compression_set("pglz")),
    ]
