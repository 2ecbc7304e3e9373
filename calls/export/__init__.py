"""CSV export of calls and snapshots: rows and cell sanitising (rows), the streamed HTTP
answer (response). The web view, the admin action and `export_calls` share both."""

from calls.export.rows import (
    CALL_COLUMNS,
    GENERAL_COLUMNS,
    ExportColumns,
    cell_neutralise,
    export_columns,
    export_filename,
    export_lines,
)

__all__ = [
    "CALL_COLUMNS",
    "GENERAL_COLUMNS",
    "ExportColumns",
    "cell_neutralise",
    "export_columns",
    "export_filename",
    "export_lines",
]
