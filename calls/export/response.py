"""The streamed CSV answer shared by the web export and the admin action."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import StreamingHttpResponse

from calls.export.rows import export_filename, export_lines
from calls.models import Organization
from calls.selectors.export import ExportSource
from calls.services.audit import audit_export_finish, audit_export_start


def export_response(
    *,
    source: ExportSource,
    actor: AbstractBaseUser | AnonymousUser,
    door: str,
    filters: dict[str, Any],
    now: datetime,
    organization_id: int | None = None,
    bom: bool = False,
) -> StreamingHttpResponse:
    """Audit the export, then stream it; the audit event gets the row count at the end."""
    event = audit_export_start(
        actor=actor,
        door=door,
        filters=filters,
        organization=Organization.objects.filter(pk=organization_id).first()
        if organization_id is not None
        else None,
    )

    def finished(rows: int, complete: bool) -> None:
        audit_export_finish(event=event, rows=rows, complete=complete)

    response = StreamingHttpResponse(
        export_lines(source=source, now=now, bom=bom, on_finish=finished),
        content_type="text/csv; charset=utf-8",
    )
    filename = export_filename(now=now, organization_id=organization_id)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Personal data: never kept by a browser or proxy cache.
    response["Cache-Control"] = "no-store"
    return response
