"""One set of rules reads the filters of the live pages and of the export: forgiving on the
pages, strict for the export."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calls.selectors.filters import ExportFilters, FilterError, ListFilters
from calls.selectors.viewer import Viewer

NOBODY = Viewer(organizations=())


def test_the_pages_fall_back_to_the_default_for_what_the_export_refuses() -> None:
    query = {"org": "abc", "status": "all", "q": " +1 310 "}
    assert ListFilters.from_query(query, viewer=NOBODY) == ListFilters(search="+1 310")
    with pytest.raises(FilterError, match="org must be an organization id"):
        ExportFilters.from_query(query)
    with pytest.raises(FilterError, match="status must be live, ended or all"):
        ExportFilters.from_query({"status": "bogus"})


def test_the_export_reads_the_lists_filters_and_its_own() -> None:
    filters = ExportFilters.from_query(
        {"org": "7", "q": " x ", "since": "2026-11-25", "snapshots": "on", "status": "Ended"}
    )
    assert filters == ExportFilters(
        organization_id=7,
        query="x",
        status="ended",
        since=datetime(2026, 11, 25, tzinfo=UTC),
        snapshots=True,
    )
    # Without a status it exports what the list shows.
    assert ExportFilters.from_query({}).status == "live"
    with pytest.raises(FilterError, match="since must be before until"):
        ExportFilters.from_query({"since": "2026-11-26", "until": "2026-11-25"})
