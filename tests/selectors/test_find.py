"""Find-a-call reads (calls.selectors.find): the database searched by exactly the filters
Invoca would take, within the organizations asked for."""

from __future__ import annotations

import pytest
from django.utils import timezone

from calls.invoca import CallFilters
from calls.models import Organization, Role
from calls.selectors.find import calls_find
from calls.selectors.viewer import Viewer, viewer_get
from tests.factories import MembershipFactory, OrganizationFactory, call_payload
from tests.views.conftest import ingest

pytestmark = pytest.mark.django_db


def found(viewer: Viewer, organizations: list[Organization], **filters: str) -> list[str]:
    calls = calls_find(
        viewer=viewer,
        organization_ids=[organization.pk for organization in organizations],
        filters=CallFilters(**filters),
        now=timezone.now(),
    )
    return sorted(call.transaction_id for call in calls)


@pytest.fixture
def two_orgs() -> tuple[Viewer, Organization, Organization]:
    first, second = OrganizationFactory.create(), OrganizationFactory.create()
    ingest(first, [call_payload("TX-1", external_unique_id="EXT-9"), call_payload("TX-2")])
    ingest(second, [call_payload("TX-3")])
    user = MembershipFactory.create(organization=first, role=Role.SUPERVISOR).user
    MembershipFactory.create(user=user, organization=second, role=Role.SUPERVISOR)
    return viewer_get(user=user), first, second


def test_ids_match_whatever_their_case(two_orgs) -> None:  # type: ignore[no-untyped-def]
    viewer, first, _second = two_orgs
    assert found(viewer, [first], transaction_id="tx-1") == ["TX-1"]
    assert found(viewer, [first], external_unique_id="ext-9") == ["TX-1"]
    assert found(viewer, [first], call_record_id="cr-tx-2") == ["TX-2"]
    # Every filter given must match.
    assert found(viewer, [first], transaction_id="TX-2", external_unique_id="EXT-9") == []


def test_numbers_match_in_any_format_within_the_organizations_asked(two_orgs) -> None:  # type: ignore[no-untyped-def]
    viewer, first, second = two_orgs
    numbers = {"calling_phone_number": "(310) 555-0147", "destination_phone_number": "8885550199"}
    assert found(viewer, [first], **numbers) == ["TX-1", "TX-2"]
    assert found(viewer, [first, second], **numbers) == ["TX-1", "TX-2", "TX-3"]


def test_no_filter_finds_nothing(two_orgs) -> None:  # type: ignore[no-untyped-def]
    viewer, first, second = two_orgs
    assert found(viewer, [first, second]) == []
    assert found(viewer, [first, second], transaction_id="  ") == []
