"""One set of rules reads the filters of the live pages and of the export: forgiving on the
pages, strict for the export."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calls.selectors.filters import ExportFilters, FilterError, ListFilters, export_filters_parse
from calls.selectors.viewer import Viewer, viewer_get
from tests.factories import MembershipFactory, OrganizationFactory

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


@pytest.mark.django_db
def test_filters_parse_drops_foreign_and_unknown_values() -> None:
    mine, other = OrganizationFactory.create(), OrganizationFactory.create()
    viewer = viewer_get(user=MembershipFactory.create(organization=mine).user)
    parsed = ListFilters.from_query(
        {"org": str(other.pk), "status": "bogus", "q": "  x  "}, viewer=viewer
    )
    assert parsed == ListFilters(organization_id=None, search="x", status="live")
    assert ListFilters.from_query({"org": str(mine.pk)}, viewer=viewer).organization_id == (mine.pk)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"status": "maybe"}, "status must be"),
        ({"organization": "abc"}, "org must be"),
        ({"since": "yesterday"}, "since must be an ISO 8601"),
        ({"since": "2026-11-25", "until": "2026-11-24"}, "since must be before until"),
        # Off the calendar in UTC, or too near its ends for every time zone to show.
        ({"since": "0001-01-01T00:00:00+01:00"}, "since must lie between 0001-01-03 and"),
        ({"until": "9999-12-31T23:59:59-01:00"}, "until must lie between .* and 9999-12-29"),
        ({"since": "0001-01-01"}, "since must lie between"),
        ({"query": "a\x00b"}, "q must not contain a NUL"),
        ({"query": "x" * 201}, "q must be at most 200 characters"),
        ({"until": "9999-12-31"}, "until must lie between"),
    ],
)
def test_filters_parse_rejects_bad_input(options, message):
    with pytest.raises(ValueError, match=message):
        export_filters_parse(**options)


@pytest.mark.django_db
def test_the_lists_search_drops_nul_characters() -> None:
    viewer = viewer_get(user=MembershipFactory.create().user)
    assert ListFilters.from_query({"q": " a\x00b "}, viewer=viewer).search == "ab"
