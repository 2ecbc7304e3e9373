"""Calls, snapshots and poll runs in admin: read-only, exact searches, capped counts, export."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import escape

from calls.admin.calls import CappedCountPaginator
from calls.models import AuditEvent, Call, CallSnapshot, Organization, OrganizationPollState
from tests.export.data import T0, calls_ingest
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db
CALLS = reverse("admin:calls_call_changelist")
SNAPSHOTS = reverse("admin:calls_callsnapshot_changelist")


@pytest.fixture
def calls():
    org = OrganizationFactory.create(clean_misses_to_end=1)
    calls_ingest(
        org,
        [
            call_payload("TXA", calling_phone_number="+13105550147", call_record_id="REC-A"),
            call_payload("TXB", calling_phone_number="+12125550000"),
        ],
        T0,
    )
    calls_ingest(
        org, [call_payload("TXB", calling_phone_number="+12125550000")], T0 + timedelta(seconds=5)
    )
    return org


def listed(client, url, **params) -> list[str]:
    response = client.get(url, params)
    assert response.status_code == 200
    result_list = response.context["cl"].result_list
    return sorted(
        obj.transaction_id if isinstance(obj, Call) else obj.call.transaction_id
        for obj in result_list
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("(310) 555-0147", ["TXA"]),
        ("310-555-0147", ["TXA"]),
        ("+1 310 555 0147", ["TXA"]),
        ("TXB", ["TXB"]),
        ("REC-A", ["TXA"]),
        ("TX", []),
    ],
)
def test_call_search_by_transaction_id_or_phone_in_any_format(
    client, staff, calls, query, expected
):
    assert listed(client, CALLS, q=query) == expected


def test_call_and_snapshot_filters(client, staff, calls):
    assert listed(client, CALLS, status="live") == ["TXB"]
    assert listed(client, CALLS, status="ended") == ["TXA"]
    assert listed(client, CALLS, organization__id__exact=calls.pk) == ["TXA", "TXB"]
    assert listed(client, SNAPSHOTS, q="212 555 0000") == ["TXB"]
    assert listed(client, SNAPSHOTS, status="ended") == ["TXA"]


def test_call_admin_is_read_only(client, staff, calls):
    call = Call.objects.get(transaction_id="TXA")
    page = client.get(reverse("admin:calls_call_change", args=[call.pk])).content.decode()
    assert 'name="transaction_id"' not in page and "TXA" in page
    assert client.get(reverse("admin:calls_call_add")).status_code == 403
    assert client.get(reverse("admin:calls_call_delete", args=[call.pk])).status_code == 403
    assert client.post(reverse("admin:calls_call_change", args=[call.pk]), {}).status_code == 403
    snapshot = CallSnapshot.objects.first()
    assert snapshot is not None
    url = reverse("admin:calls_callsnapshot_delete", args=[snapshot.pk])
    assert client.get(url).status_code == 403


def test_changelist_never_counts_the_whole_table(client, staff, calls):
    with CaptureQueriesContext(connection) as queries:
        client.get(CALLS, {"status": "ended"})
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the paginator still counts the filtered rows (capped)"
    assert all("LIMIT" in sql.upper() for sql in counts), counts


def test_capped_paginator_stops_counting_at_its_cap():
    OrganizationFactory.create_batch(5)

    class Small(CappedCountPaginator):
        CAP = 3

    assert Small(Organization.objects.order_by("pk"), 2).count == 4
    assert Small(list(range(10)), 2).count == 10


def test_export_action_streams_the_selection_and_is_audited(client, staff, calls):
    selected = Call.objects.get(transaction_id="TXA")
    response = client.post(
        CALLS + "?status=ended",
        {"action": "export_csv", ACTION_CHECKBOX_NAME: [str(selected.pk)]},
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="cipdash-calls-')
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["transaction_id"], r["call_record_id"], r["status"]) for r in rows] == [
        ("TXA", "REC-A", "ended")
    ]
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORTED)
    assert event.actor == staff
    assert event.details["door"] == "admin"
    assert event.details["filters"]["changelist"] == "status=ended"
    assert event.details["rows"] == 1 and event.details["complete"] is True


def test_last_seen_column_reads_the_organization_sighting_and_sorts_by_it(client, staff, calls):
    # Stored: TXB 12:00:05, TXA 12:01. TXB is in the latest answer, sighted at 12:03.
    Call.objects.filter(transaction_id="TXA").update(last_seen_at=T0 + timedelta(minutes=1))
    Call.objects.filter(transaction_id="TXB").update(sighting_current=True)
    sighted = T0 + timedelta(minutes=3)
    OrganizationPollState.objects.filter(pk=calls.pk).update(sighted_at=sighted)

    def shown(moment: datetime) -> str:
        return escape(formats.localize(timezone.localtime(moment)))

    def column(**params: str) -> list[tuple[str, str]]:
        response = client.get(CALLS, params)
        page = response.content.decode()
        cells = re.findall(r'<td class="field-last_seen[^"]*">(.*?)</td>', page)
        ids = [call.transaction_id for call in response.context["cl"].result_list]
        return list(zip(ids, cells, strict=True))

    index = client.get(CALLS).context["cl"].list_display.index("last_seen")
    expected = [("TXA", shown(T0 + timedelta(minutes=1))), ("TXB", shown(sighted))]
    assert column(o=str(index)) == expected
    assert column(o=f"-{index}") == expected[::-1]
    txb = Call.objects.get(transaction_id="TXB")
    detail = client.get(reverse("admin:calls_call_change", args=[txb.pk])).content.decode()
    assert shown(sighted) in detail
    assert "field-last_seen_at" not in detail  # the stored column, behind


def test_json_columns_are_laid_out_and_the_payload_shown_as_sent(client, staff):
    org = OrganizationFactory.create()
    hostile = "<script>alert(1)</script>"
    custom = {"campaign": {"value": hostile, "source": "Marketing"}}
    calls_ingest(org, [call_payload("TXJ", custom_data=custom)], T0)
    snapshot = CallSnapshot.objects.get(call__transaction_id="TXJ")
    page = client.get(reverse("admin:calls_callsnapshot_change", args=[snapshot.pk]))
    blocks = re.findall(r'<pre class="json-block[^"]*">(.*?)</pre>', page.content.decode(), re.S)
    # general, custom data, demographics, then the payload
    assert len(blocks) == 4
    assert "\n" in blocks[1] and escape(hostile) in blocks[1] and hostile not in blocks[1]
    assert blocks[3] == escape(snapshot.payload)
    call = client.get(reverse("admin:calls_call_change", args=[snapshot.call_id]))
    assert call.content.decode().count('<pre class="json-block">') == 3
