"""An export's CSV (calls.export.rows): columns in the documented order, cells as received
and neutralised, batches, the BOM and line ends."""

from __future__ import annotations

import pytest

from calls.export import CALL_COLUMNS, GENERAL_COLUMNS, cell_neutralise, export_lines
from calls.selectors.export import calls_for_export, export_source
from calls.selectors.filters import ExportFilters, export_filters_parse
from tests.export.data import T0, calls_ingest, export_table, header
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("+", "'+"),
        ("-", "'-"),
        ("+15551234567", "+15551234567"),
        ("+1 (555) 123-4567", "+1 (555) 123-4567"),
        ("-3.5", "-3.5"),
        ("+42", "+42"),
        ("-1e5", "-1e5"),
        ("plain text = fine", "plain text = fine"),
        ("02134", "02134"),
        ("", ""),
    ],
)
def test_cell_neutralise(value, expected):
    assert cell_neutralise(value) == expected


def test_columns_in_the_documented_order_with_custom_and_demographics_present():
    org = OrganizationFactory.create(name="Acme")
    calls_ingest(
        org,
        [
            call_payload(
                "TX1",
                zip_code="02134",
                advertiser_id=7,
                unknown_extra="x",
                custom_data={
                    "utm_source": {"value": "google", "source": "DynamicAttribution"},
                    "GCLID": {"value": "abc", "source": "Api"},
                    "demographics_data": {"first_name_data_append": "Ada"},
                },
            ),
            call_payload("TX2", custom_data={"lead_type": {"value": "hot", "source": "Ivr"}}),
        ],
        T0,
    )
    names = header()
    assert names[: len(CALL_COLUMNS)] == list(CALL_COLUMNS)
    assert names[:16] == [
        "organization_id",
        "organization",
        "transaction_id",
        "call_record_id",
        "external_unique_id",
        "status",
        "call_status",
        "calling_phone_number",
        "calling_phone_number_raw",
        "destination_phone_number",
        "called_phone_number",
        "bridge_start_time",
        "first_seen_at",
        "last_seen_at",
        "ended_at",
        "duration_seconds",
    ]
    general_end = 16 + len(GENERAL_COLUMNS) + 1
    assert names[16:general_end] == [*GENERAL_COLUMNS, "unknown_extra"]
    assert names[general_end:] == [
        "custom.GCLID",
        "custom.GCLID.source",
        "custom.lead_type",
        "custom.lead_type.source",
        "custom.utm_source",
        "custom.utm_source.source",
        "demographics.first_name_data_append",
    ]


def test_row_values_are_text_as_received_and_times_iso_utc():
    org = OrganizationFactory.create(name="Acme")
    calls_ingest(
        org,
        [
            call_payload(
                "TX1",
                call_record_id="00123",
                zip_code="02134",
                advertiser_id=7,
                calling_phone_number="(310) 555-0147",
                bridge_start_time="2026-11-25T03:59:00-08:00",
                custom_data={
                    "utm_source": {"value": "=evil()", "source": "DynamicAttribution"},
                    "is_member": {"value": True, "source": "Api"},
                    "demographics_data": {"is_prepaid_data_append": False},
                },
            )
        ],
        T0,
    )
    (row,) = export_table()
    assert row["organization_id"] == str(org.pk)
    assert row["organization"] == "Acme"
    assert row["transaction_id"] == "TX1"
    assert row["call_record_id"] == "00123"
    assert row["zip_code"] == "02134"
    assert row["advertiser_id"] == "7"
    assert row["status"] == "live"
    assert row["calling_phone_number"] == "+13105550147"
    assert row["calling_phone_number_raw"] == "(310) 555-0147"
    assert row["bridge_start_time"] == "2026-11-25T11:59:00Z"
    assert row["first_seen_at"] == "2026-11-25T12:00:00Z"
    assert row["ended_at"] == ""
    assert row["duration_seconds"] == "60"  # live: bridged at 11:59, exported at 12:00
    assert row["custom.utm_source"] == "'=evil()"
    assert row["custom.utm_source.source"] == "DynamicAttribution"
    assert row["custom.is_member"] == "true"
    assert row["demographics.is_prepaid_data_append"] == "false"


def test_slim_attribution_organization_keeps_ids_and_empty_custom_columns():
    full = OrganizationFactory.create(name="Full")
    slim = OrganizationFactory.create(name="Slim")
    calls_ingest(full, [call_payload("FULL1")], T0)
    slim_payload = {
        "transaction_id": "SLIM1",
        "call_record_id": "CR-SLIM-0001",
        "call_status": "bridged",
        "calling_phone_number": "+13105550100",
        "destination_phone_number": "+18885550199",
        "bridge_start_time": "2026-11-25T03:59:00-08:00",
        "phone_type": "Mobile",
    }
    calls_ingest(slim, [slim_payload], T0)
    rows = {row["transaction_id"]: row for row in export_table()}
    assert rows["SLIM1"]["call_record_id"] == "CR-SLIM-0001"
    assert rows["SLIM1"]["phone_type"] == "Mobile"
    assert rows["SLIM1"]["custom.utm_source"] == ""
    assert rows["SLIM1"]["custom.utm_source.source"] == ""
    assert rows["FULL1"]["custom.utm_source"] == "google"
    # On its own, a slim organization's export still has the attribution keys.
    only_slim = export_table(export_filters_parse(organization=slim.pk))
    assert [(r["transaction_id"], r["call_record_id"]) for r in only_slim] == [
        ("SLIM1", "CR-SLIM-0001")
    ]


def test_bom_and_crlf():
    OrganizationFactory.create()
    filters = ExportFilters()
    calls = calls_for_export(organization_ids=None, filters=filters)
    first = next(
        iter(export_lines(source=export_source(calls=calls, filters=filters), now=T0, bom=True))
    )
    assert first.startswith("\ufefforganization_id,")
    assert first.endswith("\r\n")


def test_on_finish_reports_rows_and_whether_the_consumer_read_to_the_end():
    org = OrganizationFactory.create()
    calls_ingest(org, [call_payload(f"T{n}") for n in range(5)], T0)
    filters = ExportFilters()
    calls = calls_for_export(organization_ids=None, filters=filters)
    finished: list[tuple[int, bool]] = []

    def lines(**options):
        return export_lines(
            source=export_source(calls=calls, filters=filters),
            now=T0,
            on_finish=lambda rows, complete: finished.append((rows, complete)),
            **options,
        )

    pieces = list(lines(batch=2))
    assert len(pieces) == 1 + 3  # the header, then rows in batches of 2
    assert finished == [(5, True)]
    aborted = lines(batch=2)
    next(aborted), next(aborted)  # the header and one batch, then the download is closed
    aborted.close()
    assert finished[1] == (2, False)
