"""Nothing stays "live" for ever: live calls no poll has sighted for
CALL_UNCONFIRMED_END_SECONDS end at their last sighting, "not confirmed by the feed"; calls
ended by the feed say they left it; a call that comes back is live again, with no reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls.invoca import Unavailable
from calls.invoca.decoding import current_calls_read
from calls.models import Call, CallEndReason, Organization, OrganizationPollState
from calls.selectors.polling import live_calls_stored
from calls.services import calls_end_unconfirmed, poll_failure_record, poll_result_ingest
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LIMIT = timedelta(hours=6)  # CALL_UNCONFIRMED_END_SECONDS's default


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ingest(org: Organization, transaction_ids: list[str], when: datetime) -> None:
    body = json.dumps({"current_calls": [call_payload(t) for t in transaction_ids]}).encode()
    org.refresh_from_db()
    result = current_calls_read(body, known=live_calls_stored(organization=org))
    poll_result_ingest(organization=org, result=result, started_at=when, finished_at=when)


def ended(transaction_id: str) -> tuple[datetime | None, str]:
    call = Call.objects.get(transaction_id=transaction_id)
    return call.ended_at, call.end_reason


def feed_version(org: Organization) -> int:
    return OrganizationPollState.objects.values_list("feed_version", flat=True).get(pk=org.pk)


def test_calls_unsighted_past_the_limit_end_at_their_last_sighting():
    org = OrganizationFactory.create(clean_misses_to_end=2)
    ingest(org, ["STAYS", "MISSED-ONCE"], T0)
    ingest(org, ["STAYS"], at(5))  # MISSED-ONCE: last seen at T0, one clean miss
    org.refresh_from_db()
    poll_failure_record(
        organization=org, error=Unavailable("503"), started_at=at(10), finished_at=at(10)
    )
    version = feed_version(org)

    assert calls_end_unconfirmed(now=at(5) + LIMIT) == {org.pk: 1}  # only T0's is past it
    assert ended("MISSED-ONCE") == (T0, CallEndReason.UNCONFIRMED)
    assert ended("STAYS") == (None, "")
    assert feed_version(org) == version + 1  # open pages show it ended

    assert calls_end_unconfirmed(now=at(6) + LIMIT) == {org.pk: 1}
    # Sighted through its organization's latest answer: that is the time it ends at.
    assert ended("STAYS") == (at(5), CallEndReason.UNCONFIRMED)
    stays = Call.objects.get(transaction_id="STAYS")
    assert (stays.last_seen_at, stays.sighting_current) == (at(5), False)
    assert calls_end_unconfirmed(now=at(7) + LIMIT) == {}
    assert feed_version(org) == version + 2


def test_a_call_the_feed_keeps_showing_is_never_ended():
    org = OrganizationFactory.create()
    ingest(org, ["LONG"], T0)
    ingest(org, ["LONG"], T0 + LIMIT)
    assert calls_end_unconfirmed(now=T0 + LIMIT + timedelta(minutes=10)) == {}
    assert ended("LONG") == (None, "")


def test_dry_run_counts_and_changes_nothing():
    one, other = OrganizationFactory.create(), OrganizationFactory.create()
    ingest(one, ["A", "B"], T0)
    ingest(other, ["C"], T0)
    version = feed_version(one)
    assert calls_end_unconfirmed(now=T0 + LIMIT + timedelta(seconds=1), dry_run=True) == {
        one.pk: 2,
        other.pk: 1,
    }
    assert Call.objects.filter(ended_at__isnull=True).count() == 3
    assert feed_version(one) == version


def test_the_limit_comes_from_settings(settings):
    settings.CALL_UNCONFIRMED_END_SECONDS = 30
    org = OrganizationFactory.create()
    ingest(org, ["A"], T0)
    assert calls_end_unconfirmed(now=at(30)) == {}  # not yet past it
    assert calls_end_unconfirmed(now=at(31)) == {org.pk: 1}


def test_ending_takes_the_same_statements_for_few_and_many_calls():
    def statements(calls: int) -> int:
        org = OrganizationFactory.create()
        ingest(org, [f"{org.pk}-{n}" for n in range(calls)], T0)
        with CaptureQueriesContext(connection) as queries:
            assert calls_end_unconfirmed(now=T0 + LIMIT + timedelta(seconds=1)) == {org.pk: calls}
        return len(queries)

    assert statements(2) == statements(60)


def test_the_feed_ends_a_call_as_having_left_it_and_a_call_back_is_live_again():
    org = OrganizationFactory.create(clean_misses_to_end=1)
    ingest(org, ["A", "B"], T0)
    ingest(org, ["A"], at(5))
    assert ended("B") == (T0, CallEndReason.MISSED)
    assert ended("A") == (None, "")

    ingest(org, [], at(10))
    assert calls_end_unconfirmed(now=at(5) + LIMIT + timedelta(seconds=1)) == {}  # ended
    assert ended("A") == (at(5), CallEndReason.MISSED)

    ingest(org, ["A", "B"], at(15))  # both come back: reopened, never duplicated
    assert ended("A") == ended("B") == (None, "")
    assert Call.objects.count() == 2


def test_a_call_ended_unconfirmed_that_comes_back_is_reopened():
    org = OrganizationFactory.create()
    ingest(org, ["A"], T0)
    calls_end_unconfirmed(now=T0 + LIMIT + timedelta(seconds=1))
    assert ended("A") == (T0, CallEndReason.UNCONFIRMED)
    ingest(org, ["A"], T0 + LIMIT + timedelta(seconds=5))
    assert ended("A") == (None, "")
