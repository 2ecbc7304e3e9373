"""The models' own behaviour: a call's last sighting, an organization's poll state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import F, Q

from calls.models import Call, Organization, OrganizationPollState
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def stored_call(organization: Organization, transaction_id: str, **fields: object) -> Call:
    return Call.objects.create(
        organization=organization,
        transaction_id=transaction_id,
        content_hash="0" * 32,
        first_seen_at=T0,
        **({"last_seen_at": T0} | fields),
    )


def last_seen_by_call() -> dict[str, datetime]:
    return dict(Call.objects.with_last_seen().values_list("transaction_id", F("last_seen")))


def test_with_last_seen_reads_the_latest_answer_for_calls_sighted_in_it():
    organization = OrganizationFactory.create()
    stored_call(organization, "IN_LATEST", sighting_current=True)
    stored_call(organization, "LEFT_OUT", last_seen_at=T0 + timedelta(seconds=5))
    stored_call(
        organization, "AHEAD", last_seen_at=T0 + timedelta(minutes=9), sighting_current=True
    )
    OrganizationPollState.objects.filter(pk=organization.pk).update(
        sighted_at=T0 + timedelta(minutes=5)
    )
    assert last_seen_by_call() == {
        "IN_LATEST": T0 + timedelta(minutes=5),  # the organization's latest answer
        "LEFT_OUT": T0 + timedelta(seconds=5),  # its own column, whatever the organization's
        "AHEAD": T0 + timedelta(minutes=9),  # never before its own column
    }


def test_with_last_seen_uses_the_column_until_the_organization_has_an_answer():
    organization = OrganizationFactory.create()
    stored_call(organization, "CURRENT", sighting_current=True)
    assert last_seen_by_call() == {"CURRENT": T0}


def test_with_last_seen_filters_and_orders_like_a_column():
    organization = OrganizationFactory.create()
    stored_call(organization, "EARLY", last_seen_at=T0 + timedelta(minutes=1))
    stored_call(organization, "CURRENT", sighting_current=True)
    OrganizationPollState.objects.filter(pk=organization.pk).update(
        sighted_at=T0 + timedelta(minutes=2)
    )
    calls = Call.objects.with_last_seen()
    recent = calls.filter(Q(last_seen__gte=T0 + timedelta(minutes=2)))
    assert list(recent.values_list("transaction_id", flat=True)) == ["CURRENT"]
    newest_first = calls.order_by(F("last_seen").desc()).values_list("transaction_id", flat=True)
    assert list(newest_first) == ["CURRENT", "EARLY"]


def test_every_organization_has_its_poll_state_from_the_start():
    created = Organization.objects.create(name="Made", organization_type="Network", invoca_id="9")
    state = OrganizationPollState.objects.get(pk=created.pk)
    assert (state.status, state.feed_version, state.next_poll_at) == ("ok", 0, None)
    created.delete()
    assert not OrganizationPollState.objects.filter(pk=created.pk).exists()
