"""The streamed CSV answer shared by the web export and the admin action."""

from __future__ import annotations

from django.http import StreamingHttpResponse

from calls.services.exports import CallsExport


def export_response(*, export: CallsExport) -> StreamingHttpResponse:
    """Stream an export (calls.services.exports audits it) as a download."""
    response = StreamingHttpResponse(export.lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    # Personal data: never kept by a browser or proxy cache.
    response["Cache-Control"] = "no-store"
    return response
