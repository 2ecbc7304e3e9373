"""The poll and export tallies: one upsert each, adding to what earlier ones counted, in the
caller's transaction (a poll rolled back is not counted), never reading a row first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from calls.metrics import NO_HTTP_STATUS, NO_LAG_BUCKET, POLL_DURATION_BOUNDS, bucket_index
from calls.models import ExportTally, PollOutcome, PollRun, PollTally
from calls.services import calls_purge
from calls.services.tallies import export_tally_add, poll_tally_add
from tests.export.data import T0, calls_ingest
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db


def add_clean(organization_id: int, *, duration: float = 0.3, lag: float | None = None) -> None:
    poll_tally_add(
        organization_id=organization_id,
        outcome=PollOutcome.CLEAN,
        http_status=200,
        duration_seconds=duration,
        lag_seconds=lag,
    )


def test_polls_alike_add_up_in_one_row_with_their_sums():
    org = OrganizationFactory.create()
    add_clean(org.pk, duration=0.3, lag=0.2)
    add_clean(org.pk, duration=0.4, lag=0.15)
    tally = PollTally.objects.get()
    assert (tally.count, tally.http_status) == (2, 200)
    assert tally.duration_sum == pytest.approx(0.7)
    assert tally.lag_sum == pytest.approx(0.35)
    assert tally.duration_bucket == bucket_index(0.3, POLL_DURATION_BOUNDS) == 3


def test_each_poll_is_one_statement_that_reads_nothing():
    org = OrganizationFactory.create()
    add_clean(org.pk)
    with CaptureQueriesContext(connection) as queries:
        add_clean(org.pk)
    assert len(queries) == 1
    assert queries[0]["sql"].startswith("INSERT") and "ON CONFLICT" in queries[0]["sql"]


def test_no_answer_and_no_slot_are_keys_of_their_own():
    org = OrganizationFactory.create()
    poll_tally_add(
        organization_id=org.pk,
        outcome=PollOutcome.UNAVAILABLE,
        http_status=None,
        duration_seconds=1.5,
        lag_seconds=None,
    )
    poll_tally_add(
        organization_id=org.pk,
        outcome=PollOutcome.UNAVAILABLE,
        http_status=None,
        duration_seconds=1.6,
        lag_seconds=None,
    )
    tally = PollTally.objects.get()
    assert (tally.count, tally.http_status, tally.lag_bucket) == (2, NO_HTTP_STATUS, NO_LAG_BUCKET)


def test_a_value_past_the_last_bound_lands_in_the_infinite_bucket():
    org = OrganizationFactory.create()
    add_clean(org.pk, duration=POLL_DURATION_BOUNDS[-1] + 1)
    assert PollTally.objects.get().duration_bucket == len(POLL_DURATION_BOUNDS)


def test_a_rolled_back_transaction_counts_nothing():
    org = OrganizationFactory.create()
    with pytest.raises(RuntimeError), transaction.atomic():
        add_clean(org.pk)
        raise RuntimeError
    assert not PollTally.objects.exists()


def test_deleting_an_organization_deletes_its_tallies_and_only_those():
    kept, deleted = OrganizationFactory.create(), OrganizationFactory.create()
    add_clean(kept.pk)
    add_clean(deleted.pk)
    deleted.delete()
    assert list(PollTally.objects.values_list("organization_id", flat=True)) == [kept.pk]


def test_exports_add_up_per_door():
    export_tally_add(door="web", rows=10)
    export_tally_add(door="web", rows=5)
    export_tally_add(door="cli", rows=0)
    assert list(ExportTally.objects.order_by("door").values_list("door", "count", "rows")) == [
        ("cli", 1, 0),
        ("web", 2, 15),
    ]


def test_purging_the_poll_runs_leaves_their_counts():
    org = OrganizationFactory.create(retention_days=1)
    calls_ingest(org, [call_payload("A")], T0)
    calls_ingest(org, [], T0 + timedelta(seconds=5))
    report = calls_purge(now=T0 + timedelta(days=30))
    assert report.total.poll_runs == 2 and not PollRun.objects.exists()
    assert PollTally.objects.get().count == 2
