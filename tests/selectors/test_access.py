"""Who may see what (calls.selectors.access): the calls a viewer reads are those of their own
organizations, all of them for staff, none for nobody."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from calls.selectors.access import calls_of_viewer
from calls.selectors.viewer import viewer_get
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory, call_payload
from tests.views.conftest import ingest

pytestmark = pytest.mark.django_db


def transaction_ids(user) -> set[str]:  # type: ignore[no-untyped-def]
    viewer = viewer_get(user=user)
    return set(calls_of_viewer(viewer=viewer).values_list("transaction_id", flat=True))


def test_a_viewer_reads_the_calls_of_their_organizations_only() -> None:
    mine, other, third = (OrganizationFactory.create() for _ in range(3))
    now = timezone.now()
    ingest(mine, [call_payload("MINE")], now)
    ingest(other, [call_payload("OTHER")], now)
    ingest(third, [call_payload("THIRD")], now)
    member = MembershipFactory.create(organization=mine).user
    of_two = MembershipFactory.create(organization=mine).user
    MembershipFactory.create(user=of_two, organization=other)

    assert transaction_ids(member) == {"MINE"}
    assert transaction_ids(of_two) == {"MINE", "OTHER"}
    assert transaction_ids(UserFactory.create(is_staff=True)) == {"MINE", "OTHER", "THIRD"}
    assert transaction_ids(UserFactory.create()) == set()
    assert transaction_ids(AnonymousUser()) == set()
