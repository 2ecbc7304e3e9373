"""The streamed CSV answer (calls.export.response): the export's lines as a download under its
name, never cached."""

from __future__ import annotations

from calls.export.response import export_response
from calls.services.exports import CallsExport


def test_an_export_streams_as_an_uncached_attachment() -> None:
    lines = (line for line in ["a,b\r\n", "1,2\r\n"])
    response = export_response(export=CallsExport(filename="cipdash-calls-all.csv", lines=lines))
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="cipdash-calls-all.csv"'
    assert response["Cache-Control"] == "no-store"
    assert b"".join(response.streaming_content) == b"a,b\r\n1,2\r\n"  # type: ignore[arg-type]
