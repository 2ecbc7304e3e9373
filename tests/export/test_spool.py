"""An export's records kept in a temporary file (calls.export.spool): in memory or on disk, in
one batch or many, the rows read back are the rows written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calls.selectors.filters import export_filters_parse
from tests.export.data import T0, calls_ingest, export_table
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db


def test_rows_kept_on_disk_in_many_batches_read_the_same(monkeypatch):
    """The one read goes to a temporary file (calls.export.spool); a large export's moves to
    disk, in batches. What a row repeats from the row before is left out of the file: a
    call's own columns after its first row, a JSON column equal to the one before it."""
    org = OrganizationFactory.create(name="Acme")
    first = call_payload("A", custom_data={"lead_type": {"value": "cold", "source": "Api"}})
    calls_ingest(org, [first, call_payload("B")], T0)
    hot = call_payload("A", custom_data={"lead_type": {"value": "hot", "source": "Api"}})
    calls_ingest(org, [hot, call_payload("B", call_status="=on hold")], T0 + timedelta(seconds=5))
    filters = export_filters_parse(snapshots=True)
    in_memory = export_table(filters)
    monkeypatch.setattr("calls.export.rows.SPOOL_MEMORY_BYTES", 1)
    monkeypatch.setattr("calls.export.spool._BATCH", 2)
    on_disk = export_table(filters)
    assert on_disk == in_memory
    assert [
        (row["transaction_id"], row["call_status"], row["custom.lead_type"]) for row in on_disk
    ] == [
        ("A", "bridged", "cold"),
        ("A", "bridged", "hot"),
        ("B", "bridged", ""),
        ("B", "'=on hold", ""),
    ]
    assert {row["custom.utm_source"] for row in on_disk if row["transaction_id"] == "B"} == {
        "google"
    }
    assert len({row["organization"] for row in on_disk}) == 1
