"""Fault matrix, one answer at a time: each row polls the sandbox feed over real HTTP."""

from __future__ import annotations

import contextlib
import random
import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from calls import services, tasks
from calls.invoca import url_origin
from calls.models import Call, CallSnapshot, OrganizationStatus, PollOutcome, PollRun
from calls.services.polling import backoff_seconds
from tests.faults.support import POLL_TIME_BOUND, ended_count, poll
from tests.servers import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def due_ids(*, after_seconds: float) -> set[int]:
    """Organizations a beat tick would poll that far in the future (without claiming)."""
    moment = timezone.now() + timedelta(seconds=after_seconds)
    with_claims = services.polls_claim_due(now=moment)
    return {slot.organization_id for slot in with_claims}


# ----- 401 and 403 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "reason"), [("401", "token refused (401)"), ("403", "access refused (403)")]
)
def test_auth_failure_stops_that_org_until_its_token_changes(feed, make_org, mode, reason):
    refused, healthy = make_org(), make_org()
    assert poll(refused).clean and poll(healthy).clean
    live_before = Call.objects.filter(organization=refused.organization).count()
    assert live_before == len(feed.live_calls(refused.invoca_id)) > 0

    feed.set_fault(mode, invoca_id=refused.invoca_id)
    attempt = poll(refused)
    assert attempt.run.outcome == PollOutcome.AUTH_FAILED
    assert attempt.run.http_status == int(mode)
    org = refused.fresh()
    assert org.poll_state.status == OrganizationStatus.AUTH_FAILED
    assert org.poll_state.last_error == reason
    assert ended_count() == 0

    # The beat skips it however long we wait; the other organization is untouched and polled.
    assert due_ids(after_seconds=3600) == {healthy.organization.pk}
    requests_before = feed.request_count(refused.invoca_id)
    assert tasks.organization_poll_task(organization_id=refused.organization.pk) == "not-polled"
    assert feed.request_count(refused.invoca_id) == requests_before
    assert poll(healthy).clean
    assert healthy.fresh().poll_state.status == OrganizationStatus.OK

    # A new token is the fix: polling resumes at once and works again.
    feed.clear_faults()
    services.api_token_add(organization=org, secret=refused.token)
    assert refused.organization.pk in due_ids(after_seconds=0.5)
    assert poll(refused).clean
    org = refused.fresh()
    assert (org.poll_state.status, org.poll_state.consecutive_failures) == (
        OrganizationStatus.OK,
        0,
    )
    assert ended_count() == 0


# ----- 429 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_date", [False, True], ids=["seconds", "http-date"])
def test_rate_limit_obeys_retry_after(feed, make_org, as_date):
    org = make_org(clean_misses_to_end=1)
    assert poll(org).clean
    feed.set_fault("429", invoca_id=org.invoca_id, retry_after=8, retry_after_date=as_date)
    attempt = poll(org)
    assert attempt.run.outcome == PollOutcome.RATE_LIMITED
    state = org.fresh()
    wait = (state.poll_state.next_poll_at - attempt.run.finished_at).total_seconds()
    # An HTTP date has whole-second precision (and the poll finished a moment after it).
    assert 6.9 <= wait <= 9 if as_date else wait == pytest.approx(8, abs=0.01)
    assert org.organization.pk not in due_ids(after_seconds=wait - 1.5)
    assert org.organization.pk in due_ids(after_seconds=wait + 0.5)
    assert ended_count() == 0


# ----- server errors and network failures ----------------------------------------------------


def _base_url_move(org, url):
    """Point the organization at `url` with its token entered again for it."""
    org.organization.api_base_url = url
    org.organization.save(update_fields=["api_base_url"])
    org.organization.tokens.update(origin=url_origin(url))


def _fault_base_url(url):
    def arrange(feed, org):
        _base_url_move(org, url)

    return arrange


def _fault_mode(mode, **options):
    def arrange(feed, org):
        feed.set_fault(mode, invoca_id=org.invoca_id, **options)

    return arrange


UNRESOLVABLE_HOST = "cipdash-feed.invalid"  # RFC 2606: never resolves


def resolver_seconds(host: str) -> float:
    """How long this machine's resolver takes to give up on a name: a DNS failure costs
    that, before the client's own timeouts start."""
    started = time.monotonic()
    with contextlib.suppress(OSError):
        socket.getaddrinfo(host, 80)
    return time.monotonic() - started


NETWORK_FAULTS = {
    "500": _fault_mode("500"),
    "502": _fault_mode("502"),
    "503": _fault_mode("503"),
    "refused": _fault_base_url(f"http://127.0.0.1:{free_port()}/api/2022-08-01"),
    "dns": _fault_base_url(f"http://{UNRESOLVABLE_HOST}/api/2022-08-01"),
    "read-timeout": _fault_mode("hang"),
    "drips-forever": _fault_mode("drip", interval=0.05),
    "closed": _fault_mode("close"),
}


@pytest.mark.parametrize("fault", list(NETWORK_FAULTS))
def test_unavailable_backs_off_bounded_and_recovers(feed, make_org, fault, settings):
    settings.INVOCA_ALLOWED_HOSTS = [*settings.INVOCA_ALLOWED_HOSTS, UNRESOLVABLE_HOST]
    org = make_org(clean_misses_to_end=1)
    assert poll(org).clean
    NETWORK_FAULTS[fault](feed, org)
    bound = POLL_TIME_BOUND + (resolver_seconds(UNRESOLVABLE_HOST) if fault == "dns" else 0)

    delays = []
    for failures in (1, 2, 3):
        started = time.monotonic()
        attempt = poll(org)
        assert time.monotonic() - started < bound
        assert attempt.run.outcome == PollOutcome.UNAVAILABLE, attempt.run.error
        state = org.fresh()
        assert state.poll_state.consecutive_failures == failures
        assert state.poll_state.status == OrganizationStatus.DEGRADED
        delays.append((state.poll_state.next_poll_at - attempt.run.finished_at).total_seconds())
        # interval 1 s: 2^n s with ±20 % jitter
        assert 0.8 * 2**failures <= delays[-1] <= 1.2 * 2**failures
    assert delays == sorted(delays)
    assert ended_count() == 0

    feed.clear_faults()
    _base_url_move(org, feed.url)
    assert poll(org).clean
    state = org.fresh()
    assert (state.poll_state.status, state.poll_state.consecutive_failures) == (
        OrganizationStatus.OK,
        0,
    )
    live = {call["transaction_id"] for call in feed.live_calls(org.invoca_id)}
    assert (
        set(Call.objects.filter(organization=state).values_list("transaction_id", flat=True))
        == live
    )
    assert ended_count() == 0


def test_backoff_is_capped_and_jittered(settings):
    settings.POLL_BACKOFF_MAX_SECONDS = 60.0
    rng = random.Random(1)
    long_outage = [backoff_seconds(interval=5, failures=n, rng=rng) for n in range(1, 40)]
    assert max(long_outage) <= 60.0
    assert long_outage[-1] == 60.0 or long_outage[-1] >= 48.0
    first_failures = {round(backoff_seconds(interval=5, failures=1, rng=rng), 3) for _ in range(20)}
    assert len(first_failures) > 10  # organizations failing together do not retry in lockstep
    assert all(8.0 <= delay <= 12.0 for delay in first_failures)


# ----- answers that are not the documented shape ---------------------------------------------

BAD_ANSWERS = {
    "truncated-json": ("malformed", {"variant": "truncated"}),
    "garbage-json": ("malformed", {"variant": "garbage"}),
    "html-with-200": ("html200", {}),
    "top-level-list": ("wrong_shape", {"variant": "list"}),
    "wrong-key": ("wrong_shape", {"variant": "calls_key"}),
    "null-calls": ("wrong_shape", {"variant": "null_calls"}),
}


@pytest.mark.parametrize("answer", list(BAD_ANSWERS))
def test_bad_answer_is_a_failed_poll_and_ends_nothing(feed, make_org, answer):
    org = make_org(clean_misses_to_end=1)
    assert poll(org).clean
    snapshots = CallSnapshot.objects.count()
    mode, options = BAD_ANSWERS[answer]
    feed.set_fault(mode, invoca_id=org.invoca_id, **options)
    attempt = poll(org)
    assert attempt.run.outcome == PollOutcome.BAD_RESPONSE
    assert attempt.run.error
    assert ended_count() == 0
    assert CallSnapshot.objects.count() == snapshots
    state = org.fresh()
    assert state.poll_state.status == OrganizationStatus.DEGRADED
    assert state.poll_state.consecutive_failures == 1


def test_one_malformed_call_among_good_ones(feed, make_org):
    org = make_org(clean_misses_to_end=1)
    assert poll(org).clean
    feed.set_fault("one_bad_call", invoca_id=org.invoca_id)
    attempt = poll(org)
    run = attempt.run
    assert run.outcome == PollOutcome.PARTIAL  # not clean: it may not end anything
    live = len(feed.live_calls(org.invoca_id))
    assert (run.calls_seen, run.calls_rejected) == (live, 2)
    assert "2 call(s) left out" in run.error
    # The reason names the position and the problem, never the content (a phone number).
    assert "3105550100" not in run.error and "not a call" not in run.error
    assert ended_count() == 0
    assert Call.objects.filter(organization=org.organization).count() == live


def test_partial_answer_keeps_data_and_ends_nothing(feed, make_org):
    org = make_org(clean_misses_to_end=1)
    assert poll(org).clean
    live = feed.live_calls(org.invoca_id)
    # The partial answer holds every other call: the one it carries has changed.
    feed.set_custom(org.invoca_id, live[1]["transaction_id"], "lead_score", "97")
    feed.set_fault("partial", invoca_id=org.invoca_id)
    attempt = poll(org)
    assert attempt.run.outcome == PollOutcome.PARTIAL
    assert attempt.run.http_status == 202
    assert attempt.counts.changed == 1
    changed = Call.objects.get(transaction_id=live[1]["transaction_id"])
    assert changed.custom_data["lead_score"]["value"] == "97"
    assert ended_count() == 0
    assert org.fresh().poll_state.last_error.startswith("partial answer")


# ----- calls that go missing ------------------------------------------------------------------


def test_call_missing_ends_only_after_k_clean_misses_at_its_last_sighting(feed, make_org):
    org = make_org(clean_misses_to_end=2)
    sighted = poll(org)
    assert sighted.clean
    gone = feed.live_calls(org.invoca_id)[0]["transaction_id"]
    feed.end_call(org.invoca_id, gone)

    feed.set_fault("500", invoca_id=org.invoca_id, count=1)  # a failed poll is not a miss
    assert poll(org).run.outcome == PollOutcome.UNAVAILABLE
    assert poll(org).clean
    call = Call.objects.get(transaction_id=gone)
    assert (call.ended_at, call.missed_polls) == (None, 1)

    feed.set_fault("partial", invoca_id=org.invoca_id, count=1)  # nor is a partial one
    poll(org)
    assert Call.objects.get(transaction_id=gone).ended_at is None

    final = poll(org)
    assert final.clean and final.counts.ended == 1
    call.refresh_from_db()
    assert call.ended_at == sighted.run.finished_at == call.last_seen_at
    assert Call.objects.filter(ended_at__isnull=False).count() == 1
    assert PollRun.objects.filter(organization=org.organization).count() == 5
