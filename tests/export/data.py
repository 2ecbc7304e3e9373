"""Calls for the export and admin tests, written through the real ingest path, and the CSV
the export makes of them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from django.test import Client

from calls.export import export_lines
from calls.invoca import current_calls_parse
from calls.models import Organization
from calls.selectors.export import calls_for_export, export_source
from calls.selectors.filters import ExportFilters
from calls.services import PollAttempt, poll_result_ingest

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def calls_ingest(
    organization: Organization, payloads: list[dict[str, Any]], at: datetime
) -> PollAttempt:
    """One clean poll answering `payloads` at `at` (calls missing from it count a miss)."""
    result = current_calls_parse({"current_calls": payloads}, http_status=200)
    organization.refresh_from_db()
    return poll_result_ingest(
        organization=organization, result=result, started_at=at, finished_at=at
    )


def export_text(filters: ExportFilters | None = None, **options: Any) -> str:
    """The CSV of every organization's calls the filters select, as the export writes it."""
    filters = filters or ExportFilters()
    calls = calls_for_export(organization_ids=None, filters=filters)
    return "".join(
        export_lines(source=export_source(calls=calls, filters=filters), now=T0, **options)
    )


def export_table(filters: ExportFilters | None = None, **options: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(export_text(filters, **options))))


def header(filters: ExportFilters | None = None) -> list[str]:
    return next(csv.reader(io.StringIO(export_text(filters))))


class HttpsClient(Client):
    """A test client speaking HTTPS, as browsers do in production: with DATABASE_URL set (the
    PostgreSQL run) the settings redirect plain HTTP to HTTPS."""

    def request(self, **request: Any) -> Any:
        request.update({"wsgi.url_scheme": "https", "SERVER_PORT": "443"})
        return super().request(**request)


def https_client() -> Client:
    return HttpsClient()
