"""Search for a restricted viewer: a phone number matches only by the last four digits their
masked view shows, in the live list and in Find; other roles search full numbers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from calls.invoca import CallFilters
from calls.models import Membership, Organization, Role
from calls.selectors.filters import ListFilters
from calls.selectors.find import calls_find
from calls.selectors.live import call_list
from calls.selectors.search import phone_query_digits
from calls.selectors.viewer import viewer_get
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory, call_payload
from tests.views.conftest import ingest

pytestmark = pytest.mark.django_db

# Two callers who share their last four digits, and one who does not.
LA = "+13105550147"
NYC = "+12125550147"
OTHER = "+13105550199"


@pytest.fixture
def org() -> Organization:
    org = OrganizationFactory.create()
    ingest(
        org,
        [
            call_payload("LA", calling_phone_number=LA, destination_phone_number="+18885550199"),
            call_payload("NYC", calling_phone_number=NYC, destination_phone_number="+18005550199"),
            call_payload(
                "OTHER",
                calling_phone_number=OTHER,
                custom_data={"lead_type": {"value": "hot 5550147", "source": "Api"}},
            ),
            call_payload("WITHHELD", calling_phone_number="0147"),  # all masked: "••••"
        ],
    )
    return org


def listed(user: User, query: str) -> list[str]:
    viewer = viewer_get(user=user)
    rows = call_list(viewer=viewer, filters=ListFilters(search=query), now=timezone.now())
    return sorted(call.transaction_id for call in rows)


def member(org: Organization, role: str) -> User:
    return MembershipFactory.create(organization=org, role=role).user


@pytest.mark.parametrize(
    "query",
    ["+1 310 555 0147", "3105550147", "(212) 555-0147", "+1 999 999 0147", "555-0147", "0147"],
)
def test_a_restricted_phone_search_matches_only_the_last_four_digits(org, query) -> None:
    # A full number finds exactly what its last four find: it cannot confirm a caller.
    assert listed(member(org, Role.RESTRICTED), query) == ["LA", "NYC"]


def test_fewer_digits_match_within_the_last_four_only(org) -> None:
    restricted = member(org, Role.RESTRICTED)
    assert listed(restricted, "47") == ["LA", "NYC"]
    assert listed(restricted, "01") == ["LA", "NYC", "OTHER"]
    assert listed(restricted, "555") == []  # hidden digits match nothing
    assert listed(restricted, "1310") == []


def test_a_restricted_search_never_matches_numbers_through_other_columns(org) -> None:
    restricted = member(org, Role.RESTRICTED)
    # The destination number and a custom value holding digits are no way round the mask.
    assert listed(restricted, "+1 888 555 0199") == ["OTHER"]
    assert listed(restricted, "5550147") == ["LA", "NYC"]
    # Text still searches ids, never custom values (they hold what the role does not see).
    assert listed(restricted, "la") == ["LA"]
    assert listed(restricted, "hot") == []
    assert listed(restricted, '"hot 5550147"') == []
    assert listed(member(org, Role.AGENT), "hot") == ["OTHER"]


def test_other_roles_search_the_full_number(org) -> None:
    for role in (Role.AGENT, Role.SUPERVISOR):
        user = member(org, role)
        assert listed(user, "+1 310 555 0147") == ["LA"], role
        assert listed(user, "0147") == ["OTHER"], role  # only in the custom value
        assert listed(user, "5550147") == ["OTHER"], role  # in the custom value
    staff = UserFactory.create(is_staff=True)
    assert listed(staff, "(212) 555-0147") == ["NYC"]


def test_each_organization_is_searched_as_the_role_there(org) -> None:
    elsewhere = OrganizationFactory.create()
    ingest(elsewhere, [call_payload("AWAY-LA", calling_phone_number=LA)])
    user = member(org, Role.RESTRICTED)
    Membership.objects.create(user=user, organization=elsewhere, role=Role.AGENT)
    assert listed(user, "+1 310 555 0147") == ["AWAY-LA", "LA", "NYC"]
    assert listed(user, "0147") == ["LA", "NYC"]


def found(user: User, org: Organization, calling: str, destination: str) -> list[str]:
    filters = CallFilters(calling_phone_number=calling, destination_phone_number=destination)
    calls = calls_find(
        viewer=viewer_get(user=user),
        organization_ids=[org.pk],
        filters=filters,
        now=timezone.now(),
    )
    return sorted(call.transaction_id for call in calls)


def test_find_matches_a_restricted_viewers_numbers_by_their_last_four_digits(org) -> None:
    restricted = member(org, Role.RESTRICTED)
    assert found(restricted, org, "+1 310 555 0147", "+1 888 555 0199") == ["LA", "NYC"]
    assert found(restricted, org, "+1 999 999 0147", "0199") == ["LA", "NYC"]
    assert found(restricted, org, "0147", "anonymous") == []
    agent = member(org, Role.AGENT)
    assert found(agent, org, "+1 310 555 0147", "+1 888 555 0199") == ["LA"]
    assert found(agent, org, "+1 999 999 0147", "0199") == []


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("+1 (310) 555-0147", "13105550147"),
        ("310.555.0147", "3105550147"),
        ("0147", "0147"),
        ("hot lead", ""),
        ("CR-0147", ""),
        ("", ""),
        ("+-()", ""),
    ],
)
def test_phone_query_digits(text: str, digits: str) -> None:
    assert phone_query_digits(text) == digits
