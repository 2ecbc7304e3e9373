"""A snapshot's payload becomes the call's text exactly as Invoca sent it (was jsonb/JSON).

Existing payloads keep their content, as their JSON text. On PostgreSQL the column keeps lz4
compression (migration 0005), set again since a change of type may reset it.
"""

from django.db import migrations, models


def _lz4_again(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings"
            " WHERE name = 'default_toast_compression'"
        )
        row = cursor.fetchone()
        if row and row[0]:
            cursor.execute(
                "ALTER TABLE calls_callsnapshot ALTER COLUMN payload SET COMPRESSION lz4"
            )


class Migration(migrations.Migration):

    dependencies = [
        ('calls', '0007_drop_call_last_seen_index'),
    ]

    operations = [
        migrations.AlterField(
            model_name='callsnapshot',
            name='payload',
            field=models.TextField(default='{}', help_text="The call's JSON as Invoca sent it."),
        ),
        migrations.RunPython(_lz4_again, migrations.RunPython.noop),
    ]
