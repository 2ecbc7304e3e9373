"""Tokens bound to the origin they were entered for, why a call ended, and when the request
behind an organization's latest applied answer started.

An existing token is bound to its organization's base URL as it is now, and an existing
ended call was ended by the feed (it left it)."""

from importlib import import_module
from urllib.parse import urlsplit

from django.db import migrations, models

# Adding a column rebuilds calls_call on SQLite, which drops the indexes Django does not know
# of: the live calls' covering index of 0006 is made again.
_LIVE_INDEX = import_module("calls.migrations.0006_sqlite_live_calls_covering_index")

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def _bind_tokens(apps, schema_editor) -> None:
    ApiToken = apps.get_model("calls", "ApiToken")
    for token in ApiToken.objects.select_related("organization").only(
        "pk", "organization__api_base_url"
    ):
        ApiToken.objects.filter(pk=token.pk).update(
            origin=_origin(token.organization.api_base_url)
        )


def _live_index_again(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        columns = ", ".join(_LIVE_INDEX.COLUMNS)
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {_LIVE_INDEX.INDEX} ON calls_call ({columns})"
        )


def _mark_ended(apps, schema_editor) -> None:
    Call = apps.get_model("calls", "Call")
    Call.objects.filter(ended_at__isnull=False).update(end_reason="missed")


class Migration(migrations.Migration):

    dependencies = [
        ("calls", "0008_snapshot_payload_as_sent"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="origin",
            field=models.CharField(default="", editable=False, max_length=300),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="call",
            name="end_reason",
            field=models.CharField(
                blank=True,
                choices=[("missed", "left the feed"), ("unconfirmed", "not confirmed by the feed")],
                editable=False,
                max_length=12,
            ),
        ),
        migrations.AddField(
            model_name="organization",
            name="answer_started_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(_bind_tokens, migrations.RunPython.noop),
        migrations.RunPython(_mark_ended, migrations.RunPython.noop),
        migrations.RunPython(_live_index_again, migrations.RunPython.noop),
    ]
