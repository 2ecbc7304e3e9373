"""The live list's repeat-caller counts: only earlier calls the viewer's organizations took."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Call, Role
from calls.selectors.filters import ListFilters
from calls.selectors.live import call_list
from calls.selectors.viewer import viewer_get
from tests.factories import MembershipFactory, OrganizationFactory, call_payload
from tests.views.conftest import ingest

pytestmark = pytest.mark.django_db


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
