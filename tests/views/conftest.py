"""Personas for the view tests: everyone who might open a page, and two organizations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from calls.models import Call, HighlightRule, Organization, Role
from tests.export.data import calls_ingest
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory, call_payload

ECP = {
    "display_name_data_append": "Dana Whitfield",
    "address_city_data_append": "Torrance",
    "address_state_data_append": "CA",
    "household_income_data_append": "$100k-$150k",
    "high_net_worth_data_append": True,
}


def ingest(org: Organization, payloads: list[dict[str, Any]], at: datetime | None = None) -> None:
    calls_ingest(org, payloads, at or timezone.now())


@dataclass
class World:
    home: Organization
    away: Organization
    call: Call
    foreign_call: Call
    users: dict[str, User | None]
    clients: dict[str, Client] = field(default_factory=dict)

    def wealth_rule(self) -> HighlightRule:
        """A rule on a demographics key: what a restricted member must never be shown."""
        return HighlightRule.objects.create(
            organization=self.home,
            scope=HighlightRule.Scope.DEMOGRAPHICS,
            field="high_net_worth",
            operator="present",
            label="Rich",
        )

    def client_for(self, persona: str) -> Client:
        """One signed-in client per persona (signing in is not part of what is measured)."""
        if persona not in self.clients:
            client = Client()
            user = self.users[persona]
            if user is not None:
                client.force_login(user)
            self.clients[persona] = client
        return self.clients[persona]


@pytest.fixture
def world(db: Any) -> World:
    home = OrganizationFactory.create(name="Home Org", pinned_fields=["lead_type"])
    away = OrganizationFactory.create(name="Away Org")
    now = timezone.now()
    bridge = (now - timedelta(seconds=75)).astimezone(UTC).isoformat()
    ingest(
        home,
        [
            call_payload(
                "HOME1",
                bridge_start_time=bridge,
                advertiser_campaign_name="Spring Promo",
                custom_data={"lead_type": {"value": "hot", "source": "Api"}},
                demographics_data=ECP,
            )
        ],
        now,
    )
    ingest(away, [call_payload("AWAY1", calling_phone_number="+442071838750")], now)
    users: dict[str, User | None] = {"anonymous": None}
    for role in (Role.AGENT, Role.SUPERVISOR, Role.RESTRICTED):
        users[str(role)] = MembershipFactory.create(organization=home, role=role).user
    users["outsider"] = MembershipFactory.create(organization=away).user
    users["staff"] = UserFactory.create(is_staff=True)
    return World(
        home=home,
        away=away,
        call=Call.objects.get(transaction_id="HOME1"),
        foreign_call=Call.objects.get(transaction_id="AWAY1"),
        users=users,
    )


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # Personas are created per test; the production hasher is deliberately slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def empty_cache(db: None) -> Iterator[None]:
    """No throttle or memo left in the cache by another test."""
    cache.clear()
    yield
    cache.clear()
