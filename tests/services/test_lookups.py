"""Find a call: the database answers first; Invoca is asked only when it knows nothing, and
never by number for the restricted role."""

from __future__ import annotations

import pytest
from django.utils import timezone

from calls.invoca import CallFilters
from calls.models import Organization, Role
from calls.sandbox.server import SandboxFeed
from calls.selectors.viewer import Viewer, viewer_get
from calls.services.lookups import MASKED_NUMBER_LOOKUP, FindOutcome, call_find_or_lookup
from tests.export.data import calls_ingest
from tests.factories import MembershipFactory, OrganizationFactory, call_payload
from tests.invoca.conftest import FEED_ORG
from tests.tasks.conftest import feed, feed_org

pytestmark = pytest.mark.django_db
__all__ = ["feed", "feed_org"]  # fixtures


def viewer_with(organization: Organization, role: str) -> Viewer:
    return viewer_get(user=MembershipFactory.create(organization=organization, role=role).user)


def find(viewer: Viewer, organization: Organization, **filters: str) -> FindOutcome:
    return call_find_or_lookup(
        viewer=viewer,
        organization_id=organization.pk,
        filters=CallFilters(**filters),
        now=timezone.now(),
    )


def found(outcome: FindOutcome) -> list[str]:
    return sorted(call.transaction_id for call in outcome.calls)


def test_a_call_the_database_knows_is_found_without_asking_invoca(
    feed: SandboxFeed, feed_org: Organization
) -> None:
    calls_ingest(feed_org, [call_payload("KNOWN-1")], timezone.now())
    outcome = find(viewer_with(feed_org, Role.AGENT), feed_org, transaction_id="KNOWN-1")
    assert found(outcome) == ["KNOWN-1"]
    assert outcome.lookup is None
    assert feed.request_count(FEED_ORG) == 0


def test_a_call_the_database_lacks_is_looked_up_at_invoca_and_found(
    feed: SandboxFeed, feed_org: Organization
) -> None:
    feed.add_call(FEED_ORG, call_payload("ONLY-AT-INVOCA"))
    outcome = find(viewer_with(feed_org, Role.AGENT), feed_org, transaction_id="ONLY-AT-INVOCA")
    assert found(outcome) == ["ONLY-AT-INVOCA"]
    assert outcome.lookup is not None and outcome.lookup.ran and outcome.lookup.ok
    assert feed.request_count(FEED_ORG) == 1


def test_a_restricted_viewer_is_never_looked_up_by_number(
    feed: SandboxFeed, feed_org: Organization
) -> None:
    feed.add_call(FEED_ORG, call_payload("MASKED", calling_phone_number="+13105550147"))
    outcome = find(
        viewer_with(feed_org, Role.RESTRICTED),
        feed_org,
        calling_phone_number="+13105550147",
        destination_phone_number="+18885550199",
    )
    assert found(outcome) == []
    assert outcome.lookup is not None and not outcome.lookup.ran
    assert outcome.lookup.message == MASKED_NUMBER_LOOKUP
    assert feed.request_count(FEED_ORG) == 0


def test_an_organization_not_the_viewers_is_neither_searched_nor_looked_up(
    feed: SandboxFeed, feed_org: Organization
) -> None:
    calls_ingest(feed_org, [call_payload("THEIRS")], timezone.now())
    outsider = viewer_with(OrganizationFactory.create(), Role.SUPERVISOR)
    outcome = find(outsider, feed_org, transaction_id="THEIRS")
    assert outcome == FindOutcome(calls=[])
    assert feed.request_count(FEED_ORG) == 0
