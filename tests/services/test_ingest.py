"""Ingest of one poll answer: what is written, what ends, what is recorded, and how many
SQL statements it takes (constant in the number of calls)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from calls.invoca import RateLimited, Unavailable
from calls.invoca.decoding import current_calls_read
from calls.models import (
    Call,
    CallSnapshot,
    Organization,
    OrganizationPollState,
    OrganizationStatus,
    PollRun,
)
from calls.selectors.polling import live_calls_stored
from calls.services import bulk_sql, poll_failure_record, poll_result_ingest
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ingest(org: Organization, payloads: list, when: datetime, **flags):
    """Apply an answer as a poll does: from its bytes, recognising the calls it holds."""
    body = json.dumps({"current_calls": payloads, **flags.pop("body", {})}).encode()
    org.refresh_from_db()
    result = current_calls_read(body, known=live_calls_stored(organization=org), **flags)
    return poll_result_ingest(organization=org, result=result, started_at=when, finished_at=when)


def fail(org: Organization, error, when: datetime):
    org.refresh_from_db()
    return poll_failure_record(organization=org, error=error, started_at=when, finished_at=when)


def last_seen(transaction_id: str) -> datetime:
    return (
        Call.objects.with_last_seen()
        .values_list(F("last_seen"), flat=True)
        .get(transaction_id=transaction_id)
    )


def live_ids(org: Organization) -> set[str]:
    return set(
        Call.objects.filter(organization=org, ended_at__isnull=True).values_list(
            "transaction_id", flat=True
        )
    )


def test_new_changed_unchanged_missed_and_ended():
    org = OrganizationFactory.create(clean_misses_to_end=2)
    a, b = call_payload("A"), call_payload("B")
    first = ingest(org, [a, b], T0)
    assert (first.counts.new, first.counts.changed) == (2, 0)
    assert CallSnapshot.objects.count() == 2

    b_changed = call_payload("B", custom_data={"lead_type": {"value": "hot", "source": "Api"}})
    second = ingest(org, [a, b_changed], at(5))
    assert (second.counts.new, second.counts.changed) == (0, 1)
    assert CallSnapshot.objects.filter(call__transaction_id="B").count() == 2
    assert CallSnapshot.objects.filter(call__transaction_id="A").count() == 1
    stored_b = Call.objects.get(transaction_id="B")
    assert stored_b.custom_data == {"lead_type": {"value": "hot", "source": "Api"}}
    assert stored_b.first_seen_at == T0
    assert last_seen("A") == at(5)

    ingest(org, [b_changed], at(10))  # A missed once: still live
    a_row = Call.objects.get(transaction_id="A")
    assert a_row.ended_at is None and a_row.missed_polls == 1
    third = ingest(org, [b_changed], at(15))  # missed twice: ended at its last sighting
    assert third.counts.ended == 1
    assert Call.objects.get(transaction_id="A").ended_at == at(5)

    back = ingest(org, [a, b_changed], at(20))
    assert back.counts.reopened == 1
    reopened = Call.objects.get(transaction_id="A")
    assert reopened.ended_at is None and reopened.missed_polls == 0
    assert last_seen("A") == at(20)
    assert Call.objects.filter(transaction_id="A").count() == 1
    assert PollRun.objects.count() == 5


def test_an_unchanged_poll_writes_no_snapshot_and_keeps_the_feed_version():
    org = OrganizationFactory.create()
    ingest(org, [call_payload("A")], T0)
    org.refresh_from_db()
    version = org.poll_state.feed_version
    again = ingest(org, [call_payload("A")], at(5))
    assert not again.counts.anything_changed
    assert CallSnapshot.objects.count() == 1
    org.refresh_from_db()
    assert org.poll_state.feed_version == version
    changed = ingest(org, [call_payload("A", call_status="transferred")], at(10))
    assert changed.counts.changed == 1
    org.refresh_from_db()
    assert org.poll_state.feed_version == version + 1


@pytest.mark.parametrize("misses", [1, 3])
def test_a_call_ends_after_exactly_k_clean_misses(misses):
    org = OrganizationFactory.create(clean_misses_to_end=misses)
    ingest(org, [call_payload("A"), call_payload("B")], T0)
    for poll in range(1, misses):
        ingest(org, [call_payload("B")], at(poll * 5))
        assert "A" in live_ids(org), f"ended after {poll} miss(es)"
    ended = ingest(org, [call_payload("B")], at(misses * 5))
    assert ended.counts.ended == 1
    assert live_ids(org) == {"B"}
    assert Call.objects.get(transaction_id="A").ended_at == T0


def test_a_sighting_resets_the_miss_count():
    org = OrganizationFactory.create(clean_misses_to_end=2)
    ingest(org, [call_payload("A")], T0)
    ingest(org, [], at(5))  # miss 1
    ingest(org, [call_payload("A")], at(10))  # seen again
    ingest(org, [], at(15))  # miss 1 again, not 2
    assert live_ids(org) == {"A"}


def test_filtered_partial_and_unclean_polls_never_end_calls():
    org = OrganizationFactory.create(clean_misses_to_end=1)
    ingest(org, [call_payload("A"), call_payload("B")], T0)
    filtered = ingest(org, [call_payload("A")], at(5), filtered=True)
    partial = ingest(org, [], at(10), http_status=202, body={"partial_data": True})
    with_bad_entry = ingest(org, [call_payload("A"), "garbage"], at(15))
    assert Call.objects.filter(ended_at__isnull=False).count() == 0
    assert Call.objects.filter(missed_polls__gt=0).count() == 0
    outcomes = [a.run.outcome for a in (filtered, partial, with_bad_entry)]
    assert outcomes == ["filtered", "partial", "partial"]
    assert with_bad_entry.run.calls_rejected == 1
    org.refresh_from_db()
    assert org.poll_state.status == OrganizationStatus.DEGRADED
    assert "left out" in org.poll_state.last_error and "garbage" not in org.poll_state.last_error


def test_a_filtered_poll_adds_and_refreshes_calls():
    org = OrganizationFactory.create()
    ingest(org, [call_payload("A")], T0)
    result = ingest(
        org, [call_payload("A", call_status="x"), call_payload("NEW")], at(5), filtered=True
    )
    assert (result.counts.new, result.counts.changed) == (1, 1)
    assert live_ids(org) == {"A", "NEW"}


def test_a_failed_poll_ends_nothing_and_backs_off():
    org = OrganizationFactory.create(clean_misses_to_end=1, poll_interval_seconds=5)
    ingest(org, [call_payload("A")], T0)
    attempt = fail(org, Unavailable("Invoca answered 503", http_status=503), at(5))
    assert live_ids(org) == {"A"}
    assert attempt.run.outcome == "unavailable" and attempt.run.http_status == 503
    org.refresh_from_db()
    assert org.poll_state.consecutive_failures == 1
    assert (
        org.poll_state.last_error == "Invoca answered 503" and org.poll_state.last_error_at == at(5)
    )
    assert org.poll_state.status == OrganizationStatus.DEGRADED
    assert org.poll_state.last_success_at == T0
    # Exponential with ±20 % jitter: the first failure waits about two intervals.
    assert org.poll_state.next_poll_at is not None
    assert (
        at(5) + timedelta(seconds=8) <= org.poll_state.next_poll_at <= at(5) + timedelta(seconds=12)
    )
    fail(org, Unavailable("timeout"), at(20))
    org.refresh_from_db()
    assert org.poll_state.consecutive_failures == 2
    assert org.poll_state.next_poll_at is not None
    assert (
        at(20) + timedelta(seconds=16)
        <= org.poll_state.next_poll_at
        <= at(20) + timedelta(seconds=24)
    )


def test_a_clean_poll_after_failures_resets_the_state():
    org = OrganizationFactory.create()
    fail(org, Unavailable("down"), T0)
    fail(org, RateLimited("429", retry_after=60), at(5))
    attempt = ingest(org, [call_payload("A")], at(70))
    assert attempt.clean
    org.refresh_from_db()
    assert (
        org.poll_state.consecutive_failures == 0 and org.poll_state.status == OrganizationStatus.OK
    )
    assert org.poll_state.last_success_at == at(70) and org.poll_state.last_attempt_at == at(70)
    run = PollRun.objects.get(finished_at=at(70))
    assert (run.outcome, run.calls_seen, run.calls_new, run.http_status) == ("clean", 1, 1, 200)


def scenario(size: int) -> tuple[int, list[str]]:
    """A poll with new, changed, unchanged, missed and ended calls; its statement count."""
    org = OrganizationFactory.create(clean_misses_to_end=1)
    ids = [f"T{i:05d}" for i in range(size)]
    ingest(org, [call_payload(t) for t in ids], T0)
    half = size // 2
    answer = [
        call_payload(t, call_status="changed") if i % 2 else call_payload(t)
        for i, t in enumerate(ids[:half])
    ] + [call_payload(f"N{i:05d}") for i in range(size // 4)]
    with CaptureQueriesContext(connection) as queries:
        attempt = ingest(org, answer, at(5))
    counts = attempt.counts
    assert counts.new == size // 4 and counts.changed == half // 2
    assert counts.ended == size - half
    return len(queries.captured_queries), [q["sql"][:90] for q in queries.captured_queries]


def test_statement_count_does_not_grow_with_calls(monkeypatch):
    small, small_sql = scenario(10)
    large, large_sql = scenario(1000)
    # A few rows are inserted where many are copied, which on PostgreSQL takes two
    # statements more for the upsert (bulk_sql): never more statements for more calls.
    assert small <= large <= 16, (small_sql, large_sql)
    monkeypatch.setattr(bulk_sql, "COPY_FROM_ROWS", 1)  # every batch written the same way
    assert scenario(10)[0] == scenario(1000)[0] == large


def calls_updates(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "calls_call"')
    ]


def test_an_unchanged_poll_rewrites_no_call_yet_moves_every_sighting():
    org = OrganizationFactory.create(clean_misses_to_end=1)
    ingest(org, [call_payload("A"), call_payload("B")], T0)
    with CaptureQueriesContext(connection) as queries:
        ingest(org, [call_payload("A"), call_payload("B")], at(5))
    assert calls_updates(queries) == []
    assert (last_seen("A"), last_seen("B")) == (at(5), at(5))
    ended = ingest(org, [call_payload("B")], at(10))  # A ends at its last sighting
    assert ended.counts.ended == 1
    assert Call.objects.get(transaction_id="A").ended_at == at(5)
    assert last_seen("A") == at(5) and last_seen("B") == at(10)


def test_calls_left_out_take_one_update_and_no_count():
    org = OrganizationFactory.create(clean_misses_to_end=2)
    ingest(org, [call_payload("A"), call_payload("B"), call_payload("C")], T0)
    for seconds, ended in ((5, 0), (10, 2)):  # A and B missed once, then twice: they end
        with CaptureQueriesContext(connection) as queries:
            attempt = ingest(org, [call_payload("C")], at(seconds))
        assert attempt.counts.ended == ended
        statements = [q["sql"] for q in queries.captured_queries]
        assert len(calls_updates(queries)) == 1, statements
        assert not [sql for sql in statements if "COUNT(" in sql.upper()], statements
    assert live_ids(org) == {"C"}
    assert Call.objects.get(transaction_id="A").ended_at == T0


def test_a_miss_never_moves_a_last_sighting_back():
    org = OrganizationFactory.create(clean_misses_to_end=1)
    ingest(org, [call_payload("A"), call_payload("B")], T0)
    ingest(org, [call_payload("A"), call_payload("B")], at(5))
    # A's row already says later than the organization's last answer (its row behind).
    Call.objects.filter(transaction_id="A").update(last_seen_at=at(7))
    ended = ingest(org, [call_payload("B")], at(10))
    assert ended.counts.ended == 1
    a_row = Call.objects.get(transaction_id="A")
    assert (a_row.last_seen_at, a_row.ended_at, a_row.end_reason) == (at(7), at(7), "missed")


def test_a_call_left_out_of_an_unclean_answer_keeps_its_last_sighting():
    org = OrganizationFactory.create(clean_misses_to_end=1)
    ingest(org, [call_payload("A"), call_payload("B")], T0)
    ingest(org, [call_payload("A")], at(5), filtered=True)  # B left out by the filter
    ingest(org, [call_payload("A")], at(10), filtered=True)
    assert last_seen("A") == at(10) and last_seen("B") == T0
    assert Call.objects.get(transaction_id="B").missed_polls == 0
    ingest(org, [call_payload("A"), call_payload("B")], at(15))  # back in a clean answer
    assert last_seen("B") == at(15)
    ingest(org, [call_payload("A")], at(20))
    assert Call.objects.get(transaction_id="B").ended_at == at(15)


def test_the_same_call_sent_in_other_words_is_no_change():
    org = OrganizationFactory.create()
    payload = call_payload("A")
    ingest(org, [payload], T0)
    reordered = dict(reversed(list(payload.items())))
    again = ingest(org, [reordered], at(5))
    assert not again.counts.anything_changed
    assert CallSnapshot.objects.count() == 1
    # Its new wording is remembered, so that the next poll recognises it from its bytes.
    with CaptureQueriesContext(connection) as queries:
        ingest(org, [reordered], at(10))
    assert calls_updates(queries) == [] and last_seen("A") == at(10)


def test_an_unchanged_poll_takes_six_statements():
    org = OrganizationFactory.create()
    body = json.dumps({"current_calls": [call_payload(f"T{i}") for i in range(50)]}).encode()
    ingest(org, json.loads(body)["current_calls"], T0)
    result = current_calls_read(body)
    # Loaded as a scheduled poll loads it (calls.services.polling.organization_poll_slot).
    org = Organization.objects.select_related("poll_state").get(pk=org.pk)
    with CaptureQueriesContext(connection) as queries:
        poll_result_ingest(organization=org, result=result, started_at=at(5), finished_at=at(5))
    # Begin, the organization's live calls, the run, its tally (/metrics), the organization,
    # commit.
    assert len(queries.captured_queries) == 6, [q["sql"][:80] for q in queries.captured_queries]


def test_saving_an_older_copy_of_the_organization_keeps_the_sightings():
    org = OrganizationFactory.create(clean_misses_to_end=1)
    stale = Organization.objects.get(pk=org.pk)  # as a form reads it, before the polls
    ingest(org, [call_payload("A"), call_payload("B")], T0)
    ingest(org, [call_payload("A"), call_payload("B")], at(5))
    stale.name = "Renamed"
    stale.save()
    org.refresh_from_db()
    assert org.name == "Renamed" and org.poll_state.sighted_at == at(5)
    assert last_seen("A") == at(5)
    ingest(org, [call_payload("B")], at(10))
    assert Call.objects.get(transaction_id="A").ended_at == at(5)


def test_saving_an_older_copy_of_the_organization_keeps_every_field_of_its_poll_state():
    org = OrganizationFactory.create()
    stale = Organization.objects.get(pk=org.pk)  # as a form reads it, before the polls
    ingest(org, [call_payload("A")], T0)
    fail(org, Unavailable("Invoca answered 503", http_status=503), at(5))
    polled = OrganizationPollState.objects.values().get(pk=org.pk)
    assert polled["feed_version"] and polled["last_success_at"] and polled["next_poll_at"]
    stale.retention_days = 7
    stale.save()
    assert OrganizationPollState.objects.values().get(pk=org.pk) == polled
    assert Organization.objects.get(pk=org.pk).retention_days == 7
