"""Every URL with every persona: who gets a page, who a 404, who the login page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.views.conftest import World

MEMBERS = ["agent", "supervisor", "restricted", "staff"]
ALL = ["anonymous", "outsider", *MEMBERS]


def page_urls(world: World) -> list[str]:
    return [
        reverse("calls:live"),
        reverse("calls:live") + "?status=ended",
        reverse("calls:live") + "?wall=1",
        reverse("calls:wall"),
        reverse("calls:find"),
        reverse("calls:preferences"),
        reverse("calls:detail", kwargs={"call_id": world.call.pk}),
    ]


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_anonymous_is_sent_to_login_on_every_url(world: World, htmx: bool) -> None:
    client = world.client_for("anonymous")
    headers = {"HX-Request": "true"} if htmx else {}
    for url in page_urls(world):
        response = client.get(url, headers=headers)
        if htmx:
            # htmx would swap a login page into a table row: the browser is sent away instead.
            assert response.status_code == 200, url
            assert response.headers["HX-Redirect"].startswith(reverse("login")), url
        else:
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith(reverse("login")), url
    refresh = reverse("calls:refresh", kwargs={"call_id": world.call.pk})
    assert client.post(refresh).status_code == 302


@pytest.mark.parametrize("persona", [*MEMBERS, "outsider"])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_lists_render_for_every_member(world: World, persona: str, htmx: bool) -> None:
    client = world.client_for(persona)
    headers = {"HX-Request": "true"} if htmx else {}
    for url in page_urls(world)[:6]:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        if htmx and url not in (reverse("calls:find"), reverse("calls:preferences")):
            assert b"<html" not in response.content, url


@pytest.mark.parametrize("persona", MEMBERS)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_members_open_their_call(world: World, persona: str, htmx: bool) -> None:
    headers = {"HX-Request": "true"} if htmx else {}
    url = reverse("calls:detail", kwargs={"call_id": world.call.pk})
    response = world.client_for(persona).get(url, headers=headers)
    assert response.status_code == 200
    assert b"HOME1" in response.content


@pytest.mark.parametrize("persona", ["agent", "supervisor", "restricted", "outsider"])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_foreign_call_is_a_404(world: World, persona: str, htmx: bool) -> None:
    foreign = world.call if persona == "outsider" else world.foreign_call
    headers = {"HX-Request": "true", "X-Feed-Version": "anything"} if htmx else {}
    client = world.client_for(persona)
    assert client.get(f"/calls/{foreign.pk}/", headers=headers).status_code == 404
    assert client.post(f"/calls/{foreign.pk}/refresh/").status_code == 404
    assert client.get("/calls/999999/").status_code == 404


def test_staff_open_any_call(world: World) -> None:
    client = world.client_for("staff")
    assert client.get(f"/calls/{world.foreign_call.pk}/").status_code == 200


@pytest.mark.parametrize("persona", ALL)
def test_list_shows_only_own_organizations(world: World, persona: str) -> None:
    response = world.client_for(persona).get("/", follow=True)
    body = response.content.decode()
    if persona == "anonymous":
        assert "Sign in" in body and "HOME1" not in body
        return
    home_visible = persona != "outsider"
    away_visible = persona in ("outsider", "staff")
    assert (f"/calls/{world.call.pk}/" in body) is home_visible
    assert (f"/calls/{world.foreign_call.pk}/" in body) is away_visible


def test_refresh_requires_post(world: World) -> None:
    url = reverse("calls:refresh", kwargs={"call_id": world.call.pk})
    assert world.client_for("agent").get(url).status_code == 405


def test_export_link_only_for_history_roles(world: World) -> None:
    assert b"Export CSV" in world.client_for("supervisor").get("/?q=a b").content
    assert b"/export.csv?q=a+b" in world.client_for("supervisor").get("/?q=a b").content
    for persona in ("agent", "restricted"):
        assert b"Export CSV" not in world.client_for(persona).get("/").content
