"""organization_poll outside Celery: errors of every kind end in a PollRun and a next time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.utils import timezone

from calls.invoca import Unavailable, current_calls_parse, url_origin
from calls.models import (
    CallSnapshot,
    OrganizationPollState,
    OrganizationStatus,
    PollKind,
    PollRun,
)
from calls.services import organization_poll, poll_failure_record, poll_result_ingest
from calls.services.polling import backoff_seconds
from tests.factories import ApiTokenFactory, OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db
BASE = "https://acme.invoca.net/api/2022-08-01"
URL = f"{BASE}/calls_in_progress/current_calls.json"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def org():
    organization = OrganizationFactory.create(api_base_url=BASE, poll_interval_seconds=5)
    ApiTokenFactory.create(organization=organization, secret="tok-123456")
    return organization


@responses.activate
def test_a_clean_poll_uses_the_active_token_and_marks_it_used(org):
    responses.get(URL, json={"current_calls": [call_payload("A")]})
    attempt = organization_poll(organization=org)
    assert attempt.clean and attempt.counts.new == 1
    assert responses.calls[0].request.headers["Authorization"] == "tok-123456"
    assert org.tokens.get().last_used_at is not None


@responses.activate
def test_the_token_use_is_written_at_most_once_a_minute(org):
    responses.get(URL, json={"current_calls": []})
    recent = timezone.now() - timedelta(seconds=50)
    org.tokens.update(last_used_at=recent)
    organization_poll(organization=org)
    assert org.tokens.get().last_used_at == recent
    org.tokens.update(last_used_at=recent - timedelta(seconds=20))
    organization_poll(organization=org)
    assert org.tokens.get().last_used_at > recent


def test_without_an_active_token_the_organization_is_auth_failed(org):
    org.tokens.update(active=False)
    attempt = organization_poll(organization=org)
    assert attempt.run.outcome == "auth_failed"
    org.refresh_from_db()
    assert org.poll_state.status == OrganizationStatus.AUTH_FAILED


def test_an_unusable_base_url_is_not_mistaken_for_a_token_problem(org):
    org.api_base_url = "ftp://invoca.net/api"
    org.save()
    org.tokens.update(origin=url_origin(org.api_base_url))  # as if entered for that URL
    attempt = organization_poll(organization=org)
    assert attempt.run.outcome == "rejected"
    org.refresh_from_db()
    assert org.poll_state.status == OrganizationStatus.DEGRADED
    assert org.poll_state.next_poll_at > timezone.now() + timedelta(minutes=4)


@responses.activate
def test_an_unexpected_error_is_recorded_and_backed_off(org, monkeypatch, caplog):
    responses.get(URL, json={"current_calls": [call_payload("A")]})

    caller = "+1310555" + "0147"

    def broken(**_):
        raise KeyError(caller)  # a bug whose message quotes personal data

    monkeypatch.setattr("calls.services.polling.calls_apply", broken)
    attempt = organization_poll(organization=org)
    assert attempt.run.outcome == "error"
    assert attempt.run.error == "internal error (KeyError)"
    org.refresh_from_db()
    assert org.poll_state.consecutive_failures == 1 and org.poll_state.next_poll_at > timezone.now()
    assert "KeyError" in caplog.text and "+13105550147" not in caplog.text


@responses.activate
def test_a_manual_poll_that_works_ends_the_back_off(org):
    now = timezone.now()
    for _ in range(3):
        poll_failure_record(
            organization=org, error=Unavailable("down"), started_at=now, finished_at=now
        )
        org.refresh_from_db()
    assert org.poll_state.next_poll_at > now + timedelta(seconds=30)
    responses.get(URL, json={"current_calls": []})
    organization_poll(organization=org, kind=PollKind.MANUAL)
    org.refresh_from_db()
    assert org.poll_state.next_poll_at <= timezone.now() + timedelta(seconds=5)
    assert (
        org.poll_state.consecutive_failures == 0 and org.poll_state.status == OrganizationStatus.OK
    )


def test_a_failure_moves_the_feed_version_only_when_it_changes_the_status(org):
    def state() -> OrganizationPollState:
        return OrganizationPollState.objects.get(pk=org.pk)

    version = state().feed_version
    for failures in (1, 2):
        org.refresh_from_db()
        poll_failure_record(
            organization=org, error=Unavailable("down"), started_at=T0, finished_at=T0
        )
        assert state().consecutive_failures == failures and state().last_error == "down"
        assert state().status == OrganizationStatus.DEGRADED
        assert state().feed_version == version + 1  # OK to degraded once, then no change


@responses.activate
def test_a_lookup_never_moves_the_schedule(org):
    responses.get(URL, status=503)
    org.refresh_from_db()
    before = (
        org.poll_state.next_poll_at,
        org.poll_state.consecutive_failures,
        org.poll_state.status,
    )
    from calls.invoca import CallFilters
    from calls.services import call_lookup

    attempt = call_lookup(organization=org, filters=CallFilters(transaction_id="A"))
    assert attempt.run.kind == "lookup" and attempt.run.outcome == "unavailable"
    org.refresh_from_db()
    assert (
        org.poll_state.next_poll_at,
        org.poll_state.consecutive_failures,
        org.poll_state.status,
    ) == before
    assert PollRun.objects.count() == 1


@pytest.mark.parametrize("failures", [1, 2, 5, 50])
def test_backoff_is_exponential_jittered_and_capped(failures, settings):
    settings.POLL_BACKOFF_MAX_SECONDS = 300
    waits = [backoff_seconds(interval=5, failures=failures) for _ in range(200)]
    expected = min(300, 5 * 2**failures)
    assert all(0.8 * expected <= wait <= min(300, 1.2 * expected) for wait in waits)
    if expected < 300:
        assert len({round(wait, 3) for wait in waits}) > 50  # jitter, not lockstep


def poll_one_call(org, body: str):
    """A clean poll of a raw answer body; the one call it stored."""
    responses.get(URL, body=body, content_type="application/json")
    attempt = organization_poll(organization=org)
    assert attempt.clean, attempt.run.error
    return org.calls.get()


@responses.activate
def test_values_no_database_can_store_are_made_storable(org):
    """NUL (PostgreSQL refuses it) and a lone surrogate (no UTF-8 database takes one)."""
    body = (
        '{"current_calls": [{"transaction_id": "NUL-1", "city": "a\\u0000b",'
        ' "icon": "\\ud83d\\udcde",'
        ' "custom_data": {"note": {"value": "x\\ud800y", "source": "Api"},'
        ' "k\\u0000ey": {"value": "v", "source": "Api"}}}]}'
    )
    call = poll_one_call(org, body)
    assert call.general["city"] == "a\ufffdb"
    assert call.general["icon"] == "\U0001f4de"  # a proper pair stays what it was
    assert call.custom_data["note"]["value"] == "x?y"
    snapshot = call.snapshots.get()
    assert snapshot.payload_data()["city"] == "a\ufffdb"


@responses.activate
def test_a_snapshot_keeps_the_calls_text_exactly_as_sent(org):
    sent = '{ "transaction_id":"EXACT-1" ,"score": 1.50, "caller_name": "Ren\\u00e9",  "x": {}}'
    call = poll_one_call(org, f'{{"current_calls": [{sent}]}}')
    snapshot = call.snapshots.get()
    assert snapshot.payload == sent  # spacing, number form and escapes as Invoca wrote them
    assert snapshot.payload_data() == {
        "transaction_id": "EXACT-1",
        "score": 1.5,
        "caller_name": "René",
        "x": {},
    }


def test_a_call_whose_text_was_not_kept_is_written_out_from_its_fields():
    org = OrganizationFactory.create()
    result = current_calls_parse({"current_calls": [call_payload("DICT-1")]})
    poll_result_ingest(organization=org, result=result, started_at=T0, finished_at=T0)
    snapshot = CallSnapshot.objects.get(call__transaction_id="DICT-1")
    assert json.loads(snapshot.payload) == call_payload("DICT-1")


@responses.activate
def test_numbers_json_does_not_allow_are_stored_as_null(org):
    body = (
        '{"current_calls": [{"transaction_id": "NAN-1", "score": NaN, "big": 1e400,'
        ' "custom_data": {"rank": {"value": Infinity, "source": "Api"}}}]}'
    )
    call = poll_one_call(org, body)
    assert call.custom_data["rank"]["value"] is None
    assert call.snapshots.get().payload_data()["big"] is None


@responses.activate
def test_a_surrogate_sent_as_raw_bytes_is_made_storable(org):
    """A lone surrogate encoded as UTF-8 bytes (no JSON escape): invalid UTF-8 that the body's
    decoding lets through (surrogatepass), and that no UTF-8 database stores."""
    body = (
        b'{"current_calls": [{"transaction_id": "RAW-1", "city": "a\xed\xa0\x80b",'
        b' "custom_data": {"note": {"value": "x\xed\xb0\x80y", "source": "Api"}}}]}'
    )
    responses.get(URL, body=body, content_type="application/json")
    attempt = organization_poll(organization=org)
    assert attempt.clean, attempt.run.error
    call = org.calls.get()
    assert call.general["city"] == "a?b"
    assert call.custom_data["note"]["value"] == "x?y"
    assert call.snapshots.get().payload_data()["city"] == "a?b"


@responses.activate
@pytest.mark.parametrize("sent", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_past_the_ends_of_the_calendar_is_stored_as_unknown(org, sent):
    """In UTC it falls outside the calendar: as such, one database could not write it and the
    other not read it back, so every poll of the organization or every read of its calls
    failed."""
    body = json.dumps({"current_calls": [call_payload("EDGE-1", start_time=sent)]})
    call = poll_one_call(org, body)
    assert call.start_time is None
    assert call.snapshots.get().payload_data()["start_time"] == sent


@pytest.mark.parametrize("failed", [False, True], ids=["answered", "failed"])
def test_a_clock_set_forward_during_a_poll_does_not_fail_its_bookkeeping(org, failed):
    # 40 days: more milliseconds than an integer column holds.
    started_at, finished_at = T0, T0 + timedelta(days=40)
    if failed:
        error = Unavailable("Invoca answered 503", http_status=503)
        attempt = poll_failure_record(
            organization=org, error=error, started_at=started_at, finished_at=finished_at
        )
    else:
        result = current_calls_parse({"current_calls": [call_payload("A")]})
        attempt = poll_result_ingest(
            organization=org, result=result, started_at=started_at, finished_at=finished_at
        )
    assert PollRun.objects.get().duration_ms == attempt.run.duration_ms == 2**31 - 1
    assert OrganizationPollState.objects.get(pk=org.pk).last_duration_ms == 2**31 - 1
