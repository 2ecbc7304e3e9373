"""The settings page: a member picks the time zone their pages show times in."""

from __future__ import annotations

import pytest

from tests.views.conftest import World
from tests.views.test_personas import MEMBERS


@pytest.mark.parametrize("persona", MEMBERS)
def test_preferences_set_the_time_zone(world: World, persona: str) -> None:
    client = world.client_for(persona)
    assert client.get("/settings/").status_code == 200
    response = client.post("/settings/", {"time_zone": "Europe/Paris"}, follow=True)
    assert b"Europe/Paris" in response.content
    assert client.get("/").context["user_time_zone"] == "Europe/Paris"
    assert client.post("/settings/", {"time_zone": "Mars/Olympus"}).status_code == 200
    assert client.get("/").context["user_time_zone"] == "Europe/Paris"
