"""Nothing stays "live" for ever, over real HTTP: when the feed fails, its live calls show as
unconfirmed, then end at their last sighting "not confirmed by the feed"; when it answers
again, the calls still on it are live again, never duplicated."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client

from calls import tasks
from calls.models import Call, CallEndReason, Organization, OrganizationPollState, PollOutcome, Role
from tests.factories import MembershipFactory
from tests.faults.support import poll

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
LIMIT_SECONDS = 60


def time_passes(organization: Organization, seconds: float) -> None:
    """Move every sighting and poll of the organization `seconds` into the past."""
    shift = timedelta(seconds=seconds)
    OrganizationPollState.objects.filter(pk=organization.pk).update(
        sighted_at=F("sighted_at") - shift, last_success_at=F("last_success_at") - shift
    )
    Call.objects.filter(organization=organization).update(
        first_seen_at=F("first_seen_at") - shift, last_seen_at=F("last_seen_at") - shift
    )


def text(html: bytes) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.decode()).split())


def test_a_failing_feeds_calls_turn_unconfirmed_then_end_then_come_back(feed, make_org, settings):
    settings.CALL_UNCONFIRMED_END_SECONDS = LIMIT_SECONDS
    org = make_org(poll_interval_seconds=5, target_live=3)
    first = poll(org).run
    assert first.outcome == PollOutcome.CLEAN
    live = set(Call.objects.filter(ended_at__isnull=True).values_list("pk", flat=True))
    # The feed's population is near its target, not exactly at it.
    assert len(live) == first.calls_seen > 0
    member = MembershipFactory.create(organization=org.organization, role=Role.SUPERVISOR)
    client = Client()
    client.force_login(member.user)
    assert "unconfirmed" not in text(client.get("/").content)

    feed.set_fault(503, invoca_id=org.invoca_id)
    assert poll(org).run.outcome == PollOutcome.UNAVAILABLE
    time_passes(org.organization, 40)
    assert text(client.get("/").content).count("unconfirmed since") == len(live)
    assert tasks.calls_end_unconfirmed_task() == 0  # not yet past the limit

    time_passes(org.organization, LIMIT_SECONDS - 40 + 1)
    assert tasks.calls_end_unconfirmed_task() == len(live)
    ended = Call.objects.filter(pk__in=live)
    assert all(call.end_reason == CallEndReason.UNCONFIRMED for call in ended)
    assert all(call.ended_at == call.last_seen_at for call in ended)
    detail = text(client.get(f"/calls/{min(live)}/").content)
    assert "not confirmed by the feed" in detail
    assert "0 live calls" in text(client.get("/").content)

    feed.clear_faults()
    assert poll(org).run.outcome == PollOutcome.CLEAN
    back = {call["transaction_id"] for call in feed.live_calls(org.invoca_id)}
    assert (
        set(
            Call.objects.filter(ended_at__isnull=True, end_reason="").values_list(
                "transaction_id", flat=True
            )
        )
        == back
    )
    assert Call.objects.count() == len(back | set(ended.values_list("transaction_id", flat=True)))
