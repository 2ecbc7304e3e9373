"""Calls appear, change and end on their own: beat ticks, the worker polls the sandbox feed
over HTTP, and the database follows Invoca. Real processes, real Redis, real HTTP."""

from __future__ import annotations

import time

import pytest

from calls.models import Call, CallSnapshot, Organization, OrganizationStatus, PollRun
from calls.services import api_token_add
from tests.factories import call_payload
from tests.integration.support import call_existing, call_row, stop_polling, watched_org

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_calls_appear_change_and_end(stack):
    org = watched_org(stack, "5001")
    started = time.monotonic()
    try:
        stack.feed.add_call("5001", call_payload("INT-1"))
        stack.feed.add_call("5001", call_payload("INT-2", calling_phone_number="212-555-0163"))
        stack.wait_for(
            lambda: Call.objects.filter(organization=org, ended_at__isnull=True).count() == 2,
            "both calls to appear",
        )
        assert call_existing(org, "INT-2").calling_phone_number == "+12125550163"

        stack.feed.set_custom("5001", "INT-1", "lead_type", "hot", "Api")
        stack.wait_for(
            lambda: "lead_type" in call_existing(org, "INT-1").custom_data, "the change to arrive"
        )
        assert CallSnapshot.objects.filter(call__transaction_id="INT-1").count() == 2
        assert CallSnapshot.objects.filter(call__transaction_id="INT-2").count() == 1

        stack.feed.end_call("5001", "INT-1")
        stack.wait_for(lambda: call_existing(org, "INT-1").ended_at is not None, "the call to end")
        ended = call_existing(org, "INT-1")
        assert ended.ended_at == ended.last_seen_at
        assert call_existing(org, "INT-2").ended_at is None

        org.refresh_from_db()
        assert (
            org.poll_state.status == OrganizationStatus.OK
            and org.poll_state.last_success_at is not None
        )
    finally:
        stop_polling(org)
    # One request per interval (1 s), and every one of them recorded.
    elapsed = time.monotonic() - started
    requests = stack.feed.request_count("5001")
    assert 2 <= requests <= elapsed + 2, (requests, elapsed)
    runs = PollRun.objects.filter(organization=org).count()
    assert abs(runs - requests) <= 1, (runs, requests)


def test_a_refused_token_stops_polling_until_a_new_one(stack):
    org = watched_org(stack, "5002")
    try:
        stack.feed.add_call("5002", call_payload("INT-A"))
        stack.feed.set_fault("401", invoca_id="5002")
        stack.wait_for(
            lambda: (
                Organization.objects.get(pk=org.pk).poll_state.status
                == OrganizationStatus.AUTH_FAILED
            ),
            "the organization to stop on 401",
        )
        refused = stack.feed.request_count("5002")
        time.sleep(2.5)  # several intervals: no further request
        assert stack.feed.request_count("5002") == refused == 1

        stack.feed.clear_faults("5002")
        api_token_add(organization=org, secret="int-token-5002", label="rotated")
        stack.wait_for(lambda: call_row(org, "INT-A") is not None, "polling to resume")
        org.refresh_from_db()
        assert (
            org.poll_state.status == OrganizationStatus.OK
            and org.poll_state.consecutive_failures == 0
        )
    finally:
        stop_polling(org)


def test_an_outage_backs_off_and_recovers(stack):
    org = watched_org(stack, "5003")
    try:
        stack.feed.set_fault("503", invoca_id="5003")
        stack.wait_for(
            lambda: Organization.objects.get(pk=org.pk).poll_state.consecutive_failures >= 2,
            "two failed polls",
        )
        org.refresh_from_db()
        assert (
            org.poll_state.status == OrganizationStatus.DEGRADED
            and "503" in org.poll_state.last_error
        )
        stack.feed.add_call("5003", call_payload("INT-B"))
        stack.feed.clear_faults("5003")
        stack.wait_for(lambda: call_row(org, "INT-B") is not None, "recovery after the outage")
        outcomes = list(
            PollRun.objects.filter(organization=org).order_by("started_at")
            .values_list("outcome", flat=True)
        )  # fmt: skip
        assert outcomes[:2] == ["unavailable", "unavailable"] and outcomes[-1] == "clean"
    finally:
        stop_polling(org)
