from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls.invoca import current_calls_parse
from calls.models import Call, CallSnapshot, Organization, PollRun
from calls.services import poll_result_ingest
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def ingest(org: Organization, payloads: list[dict], at: datetime, **flags):
    result = current_calls_parse({"current_calls": payloads, **flags.pop("body", {})}, **flags)
    org.refresh_from_db()
    return poll_result_ingest(organization=org, result=result, started_at=at, finished_at=at)


def test_new_changed_unchanged_missed_and_ended():
    org = OrganizationFactory(clean_misses_to_end=2)
    a, b = call_payload("A"), call_payload("B")
    first = ingest(org, [a, b], T0)
    assert (first.counts.new, first.counts.changed) == (2, 0)
    assert CallSnapshot.objects.count() == 2

    b_changed = call_payload("B", custom_data={"lead_type": {"value": "hot", "source": "Api"}})
    second = ingest(org, [a, b_changed], T0 + timedelta(seconds=5))
    assert (second.counts.new, second.counts.changed) == (0, 1)
    assert CallSnapshot.objects.filter(call__transaction_id="B").count() == 2
    assert CallSnapshot.objects.filter(call__transaction_id="A").count() == 1
    assert Call.objects.get(transaction_id="A").last_seen_at == T0 + timedelta(seconds=5)

    ingest(org, [b_changed], T0 + timedelta(seconds=10))  # A missed once: still live
    assert Call.objects.get(transaction_id="A").ended_at is None
    third = ingest(org, [b_changed], T0 + timedelta(seconds=15))  # missed twice: ended
    assert third.counts.ended == 1
    assert Call.objects.get(transaction_id="A").ended_at == T0 + timedelta(seconds=5)

    back = ingest(org, [a, b_changed], T0 + timedelta(seconds=20))
    assert back.counts.reopened == 1
    reopened = Call.objects.get(transaction_id="A")
    assert reopened.ended_at is None and reopened.missed_polls == 0
    assert Call.objects.filter(transaction_id="A").count() == 1
    assert PollRun.objects.count() == 5


def test_filtered_and_partial_polls_never_end_calls():
    org = OrganizationFactory(clean_misses_to_end=1)
    ingest(org, [call_payload("A"), call_payload("B")], T0)
    ingest(org, [call_payload("A")], T0 + timedelta(seconds=5), filtered=True)
    ingest(org, [], T0 + timedelta(seconds=10), http_status=202, body={"partial_data": True})
    ingest(org, [call_payload("A"), "garbage"], T0 + timedelta(seconds=15))
    assert Call.objects.filter(ended_at__isnull=False).count() == 0


@pytest.mark.parametrize("count", [10, 1000])
def test_statement_count_does_not_grow_with_calls(count, django_assert_max_num_queries):
    org = OrganizationFactory()
    payloads = [call_payload(f"T{i:05d}") for i in range(count)]
    ingest(org, payloads, T0)
    changed = [
        call_payload(f"T{i:05d}", call_status="x") if i % 2 else p for i, p in enumerate(payloads)
    ]
    with CaptureQueriesContext(connection) as queries:
        ingest(org, changed[: count - 1], T0 + timedelta(seconds=5))
    assert len(queries.captured_queries) <= 14, [q["sql"][:80] for q in queries.captured_queries]
