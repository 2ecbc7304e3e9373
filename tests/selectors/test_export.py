"""What an export reads (calls.selectors.export): which calls and snapshots the filters select,
and when each was last seen."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calls.models import Call, OrganizationPollState
from calls.selectors.filters import ExportFilters, export_filters_parse
from tests.export.data import T0, calls_ingest, export_table, header
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db


def test_ended_call_and_status_filter():
    org = OrganizationFactory.create(clean_misses_to_end=1)
    calls_ingest(org, [call_payload("A"), call_payload("B")], T0)
    calls_ingest(org, [call_payload("B")], T0 + timedelta(seconds=5))
    rows = {row["transaction_id"]: row for row in export_table()}
    assert rows["A"]["status"] == "ended"
    assert rows["A"]["ended_at"] == "2026-11-25T12:00:00Z"
    assert rows["B"]["status"] == "live"
    ended = export_table(export_filters_parse(status="ended"))
    assert [row["transaction_id"] for row in ended] == ["A"]
    live = export_table(export_filters_parse(status="live"))
    assert [row["transaction_id"] for row in live] == ["B"]


def test_snapshots_give_one_row_per_content_version_with_observed_at():
    org = OrganizationFactory.create()
    calls_ingest(org, [call_payload("A")], T0)
    changed = call_payload("A", custom_data={"lead_type": {"value": "hot", "source": "Api"}})
    calls_ingest(org, [changed], T0 + timedelta(seconds=5))
    calls_ingest(org, [changed], T0 + timedelta(seconds=10))  # unchanged: no snapshot
    rows = export_table(export_filters_parse(snapshots=True))
    assert [row["observed_at"] for row in rows] == [
        "2026-11-25T12:00:00Z",
        "2026-11-25T12:00:05Z",
    ]
    assert [row["custom.lead_type"] for row in rows] == ["", "hot"]
    assert [row["custom.utm_source"] for row in rows] == ["google", ""]
    names = header(export_filters_parse(snapshots=True))
    assert names[16] == "observed_at"
    since = export_table(export_filters_parse(snapshots=True, since="2026-11-25T12:00:01Z"))
    assert [row["observed_at"] for row in since] == ["2026-11-25T12:00:05Z"]


def test_search_matches_phone_in_any_format_exact_transaction_id_and_custom_value():
    org = OrganizationFactory.create()
    calls_ingest(
        org,
        [
            call_payload("TXA", calling_phone_number="+13105550147"),
            call_payload(
                "TXB",
                calling_phone_number="+12125550000",
                custom_data={"gclid": {"value": "Spring-Sale-2026", "source": "Api"}},
            ),
        ],
        T0,
    )

    def found(query: str) -> list[str]:
        return sorted(r["transaction_id"] for r in export_table(export_filters_parse(query=query)))

    assert found("(310) 555-0147") == ["TXA"]
    assert found("310.555.0147") == ["TXA"]
    assert found("TXB") == ["TXB"]
    assert found("TX") == []  # transaction ids match exactly
    assert found("spring-sale") == ["TXB"]


def test_a_call_in_the_latest_answer_was_last_seen_when_its_organization_was():
    """last_seen_at lags for calls marked sighting_current: the export reads the sighting
    from the organization, in the column and in the since filter, for calls and snapshots."""
    org = OrganizationFactory.create()
    calls_ingest(org, [call_payload("CURRENT"), call_payload("GONE")], T0)
    Call.objects.filter(transaction_id="CURRENT").update(last_seen_at=T0, sighting_current=True)
    Call.objects.filter(transaction_id="GONE").update(last_seen_at=T0, sighting_current=False)
    OrganizationPollState.objects.filter(pk=org.pk).update(sighted_at=T0 + timedelta(minutes=10))

    def last_seen(filters: ExportFilters) -> dict[str, str]:
        return {row["transaction_id"]: row["last_seen_at"] for row in export_table(filters)}

    both = {"CURRENT": "2026-11-25T12:10:00Z", "GONE": "2026-11-25T12:00:00Z"}
    assert last_seen(ExportFilters()) == both
    assert last_seen(export_filters_parse(snapshots=True)) == both
    between = export_filters_parse(since="2026-11-25T12:05:00Z")
    assert last_seen(between) == {"CURRENT": "2026-11-25T12:10:00Z"}
