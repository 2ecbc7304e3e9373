"""Find a call: the database first, Invoca when it knows nothing, both numbers or an id, and
only in the member's own organizations."""

from __future__ import annotations

import pytest

from calls.models import Call, PollKind, PollRun
from calls.sandbox.server import SandboxFeed
from tests.factories import ApiTokenFactory, call_payload
from tests.views.conftest import World

pytestmark = pytest.mark.usefixtures("empty_cache")


def test_find_a_call_in_the_database_first(world: World) -> None:
    client = world.client_for("agent")
    found = client.post(
        "/calls/find/",
        {
            "organization": world.home.pk,
            "calling_phone_number": "310.555.0147",
            "destination_phone_number": "888-555-0199",
        },
    )
    assert found.status_code == 302 and found.headers["Location"] == f"/calls/{world.call.pk}/"
    by_id = client.post("/calls/find/", {"organization": world.home.pk, "transaction_id": "home1"})
    assert by_id.headers["Location"] == f"/calls/{world.call.pk}/"


def test_find_needs_both_numbers_and_keeps_to_own_organizations(world: World) -> None:
    client = world.client_for("agent")
    lone = client.post(
        "/calls/find/", {"organization": world.home.pk, "calling_phone_number": "3105550147"}
    )
    assert lone.status_code == 200 and "together" in lone.content.decode()
    foreign = client.post(
        "/calls/find/", {"organization": world.away.pk, "transaction_id": "AWAY1"}
    )
    assert foreign.status_code == 200 and "Select a valid choice" in foreign.content.decode()
    assert client.get("/calls/find/").status_code == 200


def test_find_asks_invoca_when_the_database_has_nothing(world: World) -> None:
    with SandboxFeed(seed=2, target_live=0) as feed:
        feed.add_organization(world.home.invoca_id, "home-token-5555")
        feed.population.add_call(world.home.invoca_id, call_payload("REMOTE1"))
        world.home.api_base_url = feed.url
        world.home.save(update_fields=["api_base_url"])
        ApiTokenFactory.create(organization=world.home, secret="home-token-5555")
        response = world.client_for("agent").post(
            "/calls/find/", {"organization": world.home.pk, "transaction_id": "REMOTE1"}
        )
    remote = Call.objects.get(transaction_id="REMOTE1")
    assert response.headers["Location"] == f"/calls/{remote.pk}/"
    assert PollRun.objects.filter(kind=PollKind.LOOKUP).count() == 1
