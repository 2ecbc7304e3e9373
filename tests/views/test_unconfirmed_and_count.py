"""What the pages say when the feed stops confirming calls, and how many calls a full list
leaves out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls.models import (
    Call,
    Organization,
    OrganizationPollState,
    OrganizationStatus,
    Role,
    UserPreference,
)
from calls.selectors.live import LIST_LIMIT, organizations_unconfirmed
from calls.selectors.viewer import viewer_get
from calls.services import calls_end_unconfirmed
from tests.factories import MembershipFactory, OrganizationFactory, call_payload
from tests.views.conftest import ingest

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
# 17:04 UTC is 12:04 in New York, the viewer's time zone below.
SEEN_AT = datetime(2026, 11, 25, 17, 4, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def org() -> Organization:
    """An organization whose feed last answered at SEEN_AT, with one call live then."""
    organization = OrganizationFactory.create(name="Quiet Org", poll_interval_seconds=5)
    ingest(organization, [call_payload("QUIET1")], SEEN_AT)
    return organization


def member_client(organization: Organization, role: str = Role.AGENT) -> Client:
    user = MembershipFactory.create(organization=organization, role=role).user
    UserPreference.objects.create(user=user, time_zone="America/New_York")
    client = Client()
    client.force_login(user)
    return client


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_list_and_detail_show_a_call_unconfirmed_since_its_last_sighting(org):
    client = member_client(org)
    call = Call.objects.get(transaction_id="QUIET1")
    listed = client.get("/").content.decode()
    assert "unconfirmed since 12:04" in text(listed)
    assert 'class="call-row is-unconfirmed"' in listed
    assert f'data-until="{int(SEEN_AT.timestamp() * 1000)}"' in listed  # the timer stopped
    wall = client.get("/wall/").content.decode()
    assert "Unconfirmed since 12:04" in text(wall) and "is-unconfirmed" in wall

    detail = client.get(f"/calls/{call.pk}/").content.decode()
    assert "Unconfirmed since 12:04" in text(detail)
    assert 'data-call-state="unconfirmed"' in detail
    assert "status-live" not in detail


def test_a_call_the_feed_confirms_is_plain_live(org):
    OrganizationPollState.objects.filter(pk=org.pk).update(last_success_at=timezone.now())
    client = member_client(org)
    call = Call.objects.get(transaction_id="QUIET1")
    assert "unconfirmed" not in client.get("/").content.decode()
    detail = client.get(f"/calls/{call.pk}/").content.decode()
    assert "status-live" in detail and "Unconfirmed" not in detail


def test_the_ended_call_says_why(org):
    calls_end_unconfirmed(now=SEEN_AT + timedelta(hours=6, seconds=1))
    call = Call.objects.get(transaction_id="QUIET1")
    # Ended days ago: a supervisor's history.
    detail = text(member_client(org, Role.SUPERVISOR).get(f"/calls/{call.pk}/").content.decode())
    assert "Ended at 12:04:30 — not confirmed by the feed" in detail
    assert "Not confirmed by the feed: call ended." in detail


def test_the_list_refreshes_when_its_calls_turn_unconfirmed():
    organization = OrganizationFactory.create(poll_interval_seconds=5)
    ingest(organization, [call_payload("A")], timezone.now())
    client = member_client(organization)
    first = client.get("/", headers=HTMX)
    assert "unconfirmed" not in first.content.decode()
    OrganizationPollState.objects.filter(pk=organization.pk).update(
        last_success_at=timezone.now() - timedelta(minutes=2)
    )
    again = client.get("/", headers={**HTMX, "X-Feed-Version": first.context["version"]})
    assert again.status_code == 200 and "unconfirmed since" in again.content.decode()


def test_which_organizations_are_unconfirmed():
    now = timezone.now()

    def unconfirmed(**state: Any) -> bool:
        organization = OrganizationFactory.create(poll_interval_seconds=5, **state)
        user = MembershipFactory.create(organization=organization).user
        return organization.pk in organizations_unconfirmed(viewer=viewer_get(user=user), now=now)

    assert not unconfirmed(last_success_at=now - timedelta(seconds=5))
    # Three intervals are 15 s, but one slow poll must not flip every row.
    assert not unconfirmed(last_success_at=now - timedelta(seconds=29))
    assert unconfirmed(last_success_at=now - timedelta(seconds=31))
    assert unconfirmed(last_success_at=now, enabled=False)
    assert unconfirmed(last_success_at=now, status=OrganizationStatus.AUTH_FAILED)
    assert unconfirmed(last_success_at=now, status=OrganizationStatus.DISABLED)
    slow = OrganizationFactory.create(poll_interval_seconds=60, last_success_at=now)
    user = MembershipFactory.create(organization=slow).user
    later = now + timedelta(seconds=179)
    assert slow.pk not in organizations_unconfirmed(viewer=viewer_get(user=user), now=later)


def many_live_calls(organization: Organization, count: int) -> None:
    now = timezone.now()
    Call.objects.bulk_create(
        Call(
            organization=organization,
            transaction_id=f"BULK{n:04d}",
            calling_phone_number=f"+1310555{n:04d}",
            content_hash="x",
            first_seen_at=now - timedelta(seconds=n),
            last_seen_at=now,
        )
        for n in range(count)
    )
    OrganizationPollState.objects.filter(pk=organization.pk).update(last_success_at=now)


def test_a_full_list_says_how_many_calls_match_and_how_to_see_the_rest():
    organization = OrganizationFactory.create()
    many_live_calls(organization, 512)
    client = member_client(organization)
    for url in ("/", "/wall/"):
        response = client.get(url)
        assert len(response.context["rows"]) == LIST_LIMIT
        assert f"{LIST_LIMIT} of 512 live calls" in text(response.content.decode()), url
    assert "Narrow the list with the search or filters to see the rest." in text(
        client.get("/").content.decode()
    )
    narrowed = text(client.get("/", {"q": "BULK0007"}).content.decode())
    assert "1 live call " in narrowed and "Narrow the list" not in narrowed


def test_the_count_is_one_query_whatever_the_number_of_calls():
    organization = OrganizationFactory.create()
    client = member_client(organization)

    def queries(live: int) -> int:
        Call.objects.all().delete()
        many_live_calls(organization, live)
        client.get("/")  # the session and preference warmed up alike
        with CaptureQueriesContext(connection) as captured:
            body = text(client.get("/").content.decode())
        expected = f"{LIST_LIMIT} of {live}" if live > LIST_LIMIT else f"{live} live calls"
        assert expected in body
        return len(captured)

    short = queries(12)
    assert queries(LIST_LIMIT + 1) == queries(900) == short + 1
