"""Live-list reads: role-scoped history, search, repeat counts, find-a-call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.invoca import CallFilters
from calls.models import Call, Organization, Role
from calls.selectors.filters import ListFilters
from calls.selectors.find import calls_find
from calls.selectors.live import call_detail_get, call_list, earlier_calls
from calls.selectors.viewer import Viewer, viewer_get
from tests.factories import MembershipFactory, OrganizationFactory, call_payload
from tests.views.conftest import ingest

pytestmark = pytest.mark.django_db


def test_history_depends_on_role_and_recency() -> None:
    org = OrganizationFactory.create()
    ingest(org, [call_payload("OLD"), call_payload("RECENT"), call_payload("LIVE")])
    now = timezone.now()
    Call.objects.filter(transaction_id="OLD").update(ended_at=now - timedelta(hours=3))
    Call.objects.filter(transaction_id="RECENT").update(ended_at=now - timedelta(minutes=3))
    ended = ListFilters(status="ended")
    for role, expected in ((Role.AGENT, ["RECENT"]), (Role.SUPERVISOR, ["RECENT", "OLD"])):
        user = MembershipFactory.create(organization=org, role=role).user
        viewer = viewer_get(user=user)
        rows = call_list(viewer=viewer, filters=ended, now=now)
        assert [c.transaction_id for c in rows] == expected, role
        live = call_list(viewer=viewer, filters=ListFilters(), now=now)
        assert [c.transaction_id for c in live] == ["LIVE"]
        old = Call.objects.get(transaction_id="OLD")
        found = call_detail_get(viewer=viewer, call_id=old.pk, now=now)
        assert (found is not None) is (role == Role.SUPERVISOR)


def earlier_counts(org: Organization, *, first: str) -> tuple[Viewer, dict[str, int]]:
    """A member's live list after `first` was seen a day before the others: each listed
    call's count of earlier calls from its number."""
    Call.objects.filter(transaction_id=first).update(
        first_seen_at=timezone.now() - timedelta(days=1)
    )
    user = MembershipFactory.create(organization=org).user
    viewer = viewer_get(user=user)
    listed = call_list(viewer=viewer, filters=ListFilters(), now=timezone.now())
    return viewer, {call.transaction_id: call.earlier_count for call in listed}  # type: ignore[attr-defined]


def test_earlier_counts_and_find_by_numbers_in_any_format() -> None:
    org = OrganizationFactory.create()
    ingest(
        org,
        [
            call_payload("A"),
            call_payload("B"),
            call_payload("C", calling_phone_number="+12125550188"),
        ],
    )
    viewer, earlier = earlier_counts(org, first="A")
    assert earlier == {"A": 0, "B": 1, "C": 0}
    found = calls_find(
        viewer=viewer,
        organization_ids=[org.pk],
        filters=CallFilters(
            calling_phone_number="1 (310) 555-0147", destination_phone_number="8885550199"
        ),
        now=timezone.now(),
    )
    assert sorted(c.transaction_id for c in found) == ["A", "B"]
    outsider = MembershipFactory.create(organization=OrganizationFactory.create()).user
    assert (
        calls_find(
            viewer=viewer_get(user=outsider),
            organization_ids=[org.pk],
            filters=CallFilters(transaction_id="A"),
            now=timezone.now(),
        )
        == []
    )


def test_unparseable_numbers_never_make_repeat_callers() -> None:
    org = OrganizationFactory.create()
    ingest(
        org,
        [
            call_payload("X", calling_phone_number="0"),
            call_payload("Y", calling_phone_number="0"),
            call_payload("Z", calling_phone_number="anonymous"),
        ],
    )
    viewer, earlier = earlier_counts(org, first="X")
    assert earlier == {"X": 0, "Y": 0, "Z": 0}
    later = Call.objects.get(transaction_id="Y")
    assert call_detail_get(viewer=viewer, call_id=later.pk, now=timezone.now())
    assert earlier_calls(viewer=viewer, call=later, now=timezone.now()) == []


def test_earlier_calls_count_only_in_the_viewers_organizations() -> None:
    mine, other = OrganizationFactory.create(), OrganizationFactory.create()
    ingest(mine, [call_payload("NOW"), call_payload("BEFORE")])
    ingest(other, [call_payload("ELSEWHERE1"), call_payload("ELSEWHERE2")])
    yesterday = timezone.now() - timedelta(days=1)
    Call.objects.exclude(transaction_id="NOW").update(first_seen_at=yesterday, ended_at=yesterday)

    member = MembershipFactory.create(organization=mine).user
    of_both = MembershipFactory.create(organization=mine, role=Role.SUPERVISOR).user
    MembershipFactory.create(user=of_both, organization=other)
    for user, expected in ((member, 1), (of_both, 3)):
        listed = call_list(viewer=viewer_get(user=user), filters=ListFilters(), now=timezone.now())
        counts = {call.transaction_id: call.earlier_count for call in listed}  # type: ignore[attr-defined]
        assert counts == {"NOW": expected}
