"""The admin's lists and inlines in the order a reader expects (no model orders itself)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calls.models import AuditEvent, HighlightRule
from tests.factories import ApiTokenFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def appear_in_order(page: str, *texts: str) -> bool:
    positions = [page.index(text) for text in texts]
    return positions == sorted(positions)


def test_organizations_are_listed_by_name(client, staff):
    for name in ("Alpha Org", "Zeta Org", "Mid Org"):
        OrganizationFactory.create(name=name)

    page = client.get(reverse("admin:calls_organization_changelist")).content.decode()

    assert appear_in_order(page, "Alpha Org", "Mid Org", "Zeta Org")


def test_an_organization_shows_active_tokens_first_then_newest_and_rules_by_position(client, staff):
    organization = OrganizationFactory.create()
    now = timezone.now()
    for label, active, age in (("OLD-OFF", False, 3), ("NEW-OFF", False, 1), ("ACTIVE", True, 2)):
        token = ApiTokenFactory.create(organization=organization, label=label, active=active)
        token.created_at = now - timedelta(days=age)
        token.save(update_fields=["created_at"])
    for position, label in ((2, "RULE-TWO"), (1, "RULE-ONE")):
        HighlightRule.objects.create(
            organization=organization, field="lead_type", value="x", label=label, position=position
        )

    url = reverse("admin:calls_organization_change", args=[organization.pk])
    page = client.get(url).content.decode()

    assert appear_in_order(page, 'value="ACTIVE"', 'value="NEW-OFF"', 'value="OLD-OFF"')
    assert appear_in_order(page, 'value="RULE-ONE"', 'value="RULE-TWO"')


def test_audit_events_are_listed_newest_first(client, staff):
    now = timezone.now()
    older_by_clock = AuditEvent.objects.create(action=AuditEvent.Action.CHANGED, summary="EARLIER")
    newer_by_clock = AuditEvent.objects.create(action=AuditEvent.Action.CHANGED, summary="LATER")
    # Written in the other order than they happened (clocks of two processes differ).
    AuditEvent.objects.filter(pk=older_by_clock.pk).update(created_at=now)
    AuditEvent.objects.filter(pk=newer_by_clock.pk).update(created_at=now - timedelta(minutes=1))

    page = client.get(reverse("admin:calls_auditevent_changelist")).content.decode()

    assert appear_in_order(page, "EARLIER", "LATER")
