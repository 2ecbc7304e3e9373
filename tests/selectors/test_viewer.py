"""Viewer scoping, feed health and the version token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import OrganizationPollState, OrganizationStatus, Role
from calls.selectors.viewer import (
    STAFF,
    feed_problem,
    feed_version_token,
    viewer_get,
)
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_viewer_lists_own_organizations_with_roles_and_staff_sees_all() -> None:
    mine, other = OrganizationFactory.create(name="B"), OrganizationFactory.create(name="A")
    member = MembershipFactory.create(organization=mine, role=Role.SUPERVISOR).user
    viewer = viewer_get(user=member)
    assert [(o.id, o.role) for o in viewer.organizations] == [(mine.pk, Role.SUPERVISOR)]
    assert viewer.sees_any_history
    staff = viewer_get(user=UserFactory.create(is_staff=True))
    assert [(o.id, o.role) for o in staff.organizations] == [(other.pk, STAFF), (mine.pk, STAFF)]


def test_feed_problem_is_time_based_and_names_refused_tokens() -> None:
    now = timezone.now()
    org = OrganizationFactory.create(
        poll_interval_seconds=5, last_success_at=now - timedelta(seconds=14)
    )
    member = MembershipFactory.create(organization=org).user
    view = viewer_get(user=member).organizations[0]
    assert feed_problem(organization=view, now=now) is None
    assert feed_problem(organization=view, now=now + timedelta(seconds=2)) is not None
    OrganizationPollState.objects.filter(pk=org.pk).update(
        status=OrganizationStatus.AUTH_FAILED, last_error="401 NotAuthorized"
    )
    refused = feed_problem(organization=viewer_get(user=member).organizations[0], now=now)
    assert refused is not None and "refused" in refused.reason and "401" in refused.reason


def test_a_new_organization_gets_the_same_grace_as_healthz_before_its_first_poll() -> None:
    org = OrganizationFactory.create(poll_interval_seconds=5)
    member = MembershipFactory.create(organization=org).user
    view = viewer_get(user=member).organizations[0]
    assert feed_problem(organization=view, now=view.created_at + timedelta(seconds=14)) is None
    late = feed_problem(organization=view, now=view.created_at + timedelta(seconds=16))
    assert late is not None and late.reason == "No successful poll yet."
    OrganizationPollState.objects.filter(pk=org.pk).update(last_error="connection refused")
    failing = viewer_get(user=member).organizations[0]
    early = feed_problem(organization=failing, now=failing.created_at + timedelta(seconds=1))
    assert early is not None and early.reason == "connection refused"


def test_version_token_moves_with_feed_version_and_staleness() -> None:
    now = timezone.now()
    org = OrganizationFactory.create(poll_interval_seconds=5, last_success_at=now)
    member = MembershipFactory.create(organization=org).user
    token = feed_version_token(viewer=viewer_get(user=member), now=now, extra="x")
    assert token == feed_version_token(viewer=viewer_get(user=member), now=now, extra="x")
    assert token != feed_version_token(viewer=viewer_get(user=member), now=now, extra="y")
    later = now + timedelta(seconds=60)
    assert token != feed_version_token(viewer=viewer_get(user=member), now=later, extra="x")
    OrganizationPollState.objects.filter(pk=org.pk).update(feed_version=7)
    assert token != feed_version_token(viewer=viewer_get(user=member), now=now, extra="x")
