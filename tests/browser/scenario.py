"""A believable floor of live calls for the browser tests and their screenshots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from calls.models import HighlightRule, Organization, Role
from tests.browser.conftest import db_lock, ingest
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory, call_payload

HOSTILE = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
RTL = "مرحبا بالعالم שלום"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def live_call(transaction_id: str, *, seconds_ago: int, **fields: Any) -> dict[str, Any]:
    bridge = timezone.now() - timedelta(seconds=seconds_ago)
    return call_payload(transaction_id, bridge_start_time=iso(bridge), **fields)


@dataclass
class Floor:
    org: Organization
    agent: User
    supervisor: User
    restricted: User
    payloads: list[dict[str, Any]]


def floor_create() -> Floor:
    with db_lock:
        org = OrganizationFactory.create(
            name="Acme Insurance",
            pinned_fields=["lead_type", "utm_source", "policy"],
            time_zone="America/Los_Angeles",
            poll_interval_seconds=5.0,
        )
        HighlightRule.objects.create(
            organization=org, field="lead_type", value="hot", label="Hot lead", colour="red"
        )
        HighlightRule.objects.create(
            organization=org,
            scope=HighlightRule.Scope.DEMOGRAPHICS,
            field="high_net_worth",
            operator="present",
            label="High net worth",
            colour="purple",
        )
        agent = MembershipFactory.create(
            organization=org, role=Role.AGENT, user__username="agent"
        ).user
        supervisor = MembershipFactory.create(organization=org, role=Role.SUPERVISOR).user
        restricted = MembershipFactory.create(organization=org, role=Role.RESTRICTED).user
        UserFactory.create(username="staffer", is_staff=True)
    payloads = [
        live_call(
            "TXHOT1",
            seconds_ago=95,
            calling_phone_number="+13105550147",
            advertiser_campaign_name="Auto quote — spring",
            advertiser_name="Acme Auto",
            custom_data={
                "lead_type": {"value": "hot", "source": "Api"},
                "utm_source": {"value": "google", "source": "DynamicAttribution"},
                "policy": {"value": "AUTO-2291", "source": "RoutingWebhook"},
            },
            demographics_data={
                "display_name_data_append": "Dana Whitfield",
                "first_name_data_append": "Dana",
                "address_city_data_append": "Torrance",
                "address_state_data_append": "CA",
                "household_income_data_append": "$100k-$150k",
                "high_net_worth_data_append": True,
                "carrier_data_append": "Verizon",
            },
        ),
        live_call(
            "TXHOSTILE",
            seconds_ago=40,
            calling_phone_number="+442071838750",
            advertiser_campaign_name=HOSTILE,
            custom_data={
                "lead_type": {"value": HOSTILE, "source": "Api"},
                "utm_source": {"value": "x" * 10_000, "source": "SomeNewSource"},
                "policy": {"value": "😀🚗 " + RTL, "source": "VirtualLine"},
            },
        ),
        live_call(
            "TXQUIET",
            seconds_ago=400,
            calling_phone_number="+12125550188",
            advertiser_campaign_name="Home insurance",
            custom_data={"utm_source": {"value": "bing", "source": "DynamicAttribution"}},
        ),
    ]
    # The routing webhook's value arrives a few seconds after the transfer: the detail
    # page's timeline shows it as a change between the first two snapshots.
    early = [dict(p) for p in payloads]
    early[0] = {
        **early[0],
        "custom_data": {k: v for k, v in early[0]["custom_data"].items() if k != "policy"},
    }
    ingest(org, early, timezone.now() - timedelta(seconds=4))
    ingest(org, payloads)  # a second clean poll: a healthy, current feed
    return Floor(org, agent, supervisor, restricted, payloads)
