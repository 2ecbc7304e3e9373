"""The authorization matrix: every URL the URLconf serves, for every persona.

URLs are enumerated from the resolver, so a new view fails `test_every_url_has_a_rule` until it
is given a rule here. Two organizations on the sandbox feed each carry one call with markers
that must never show up for a persona who may not see that organization.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from calls.models import Call, Role
from tests.factories import MembershipFactory, UserFactory, call_payload
from tests.faults.support import FeedOrganization, poll

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

PERSONAS = ["anonymous", "agent", "supervisor", "restricted", "outsider", "staff"]
# Strings of each organization's call that only its viewers may ever receive.
MARKERS = {
    "home": ("HOMECALL0001", "HOME-MARKER-7731", "5550147", "555-0147"),
    "away": ("AWAYCALL0001", "AWAY-MARKER-9924", "5550188", "555-0188"),
}
CALLERS = {"home": "+13105550147", "away": "+14155550188"}

# The rule for each named URL outside the admin (which has its own test).
PUBLIC = {"login", "logout", "healthz"}
SIGNED_IN_PAGES = {
    "calls:live",
    "calls:wall",
    "calls:find",
    "calls:preferences",
    "calls:activity",
}
CALL_PAGES = {"calls:detail": "get", "calls:refresh": "post"}
EXPORTS = {"calls:export", "calls:activity_csv"}
# For Prometheus: its bearer token or a listed address, never a session.
MACHINE = {"metrics"}


@dataclass
class World:
    orgs: dict[str, FeedOrganization]
    calls: dict[str, Call]
    clients: dict[str, Client] = field(default_factory=dict)

    def visible(self, persona: str) -> set[str]:
        return {
            "anonymous": set(),
            "agent": {"home"},
            "supervisor": {"home"},
            "restricted": {"home"},
            "outsider": {"away"},
            "staff": {"home", "away"},
        }[persona]

    def hidden(self, persona: str) -> set[str]:
        return {"home", "away"} - self.visible(persona)


@pytest.fixture
def world(feed, make_org) -> World:  # type: ignore[no-untyped-def]
    orgs = {side: make_org(target_live=0) for side in ("home", "away")}
    calls = {}
    for side, org in orgs.items():
        transaction_id, marker = MARKERS[side][:2]
        feed.add_call(
            org.invoca_id,
            call_payload(
                transaction_id,
                calling_phone_number=CALLERS[side],
                custom_data={"marker": {"value": marker, "source": "Api"}},
            ),
        )
        assert poll(org).clean
        calls[side] = Call.objects.get(transaction_id=transaction_id)
    home, away = orgs["home"].organization, orgs["away"].organization
    users: dict[str, Any] = {
        "agent": MembershipFactory.create(organization=home, role=Role.AGENT).user,
        "supervisor": MembershipFactory.create(organization=home, role=Role.SUPERVISOR).user,
        "restricted": MembershipFactory.create(organization=home, role=Role.RESTRICTED).user,
        "outsider": MembershipFactory.create(organization=away, role=Role.SUPERVISOR).user,
        "staff": UserFactory.create(is_staff=True, is_superuser=True),
    }
    world = World(orgs=orgs, calls=calls)
    world.clients["anonymous"] = Client()
    for persona, user in users.items():
        client = Client()
        client.force_login(user)
        world.clients[persona] = client
    return world


def _walk(patterns: list, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:  # type: ignore[type-arg]
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry


def url_names() -> set[str]:
    return {name for name, _ in _walk(get_resolver().url_patterns)}


def body_of(response) -> str:  # type: ignore[no-untyped-def]
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode("utf-8", "replace")


def assert_nothing_hidden(
    world: World, persona: str, text: str, where: str, *, typed: str = ""
) -> None:
    """`typed`: what the persona typed in themselves, which a form may echo back."""
    for side in world.hidden(persona):
        for marker in MARKERS[side]:
            if marker == typed:
                continue
            assert marker not in text, f"{persona} got {side}'s {marker!r} from {where}"


def assert_sent_to_login(response, where: str) -> None:  # type: ignore[no-untyped-def]
    login = reverse("login")
    if response.status_code == 200 and "HX-Redirect" in response.headers:
        assert response.headers["HX-Redirect"].startswith(login), where
    else:
        assert response.status_code == 302, where
        assert response.headers["Location"].startswith(login), where


def test_every_url_has_a_rule():
    ruled = PUBLIC | SIGNED_IN_PAGES | set(CALL_PAGES) | EXPORTS | MACHINE
    unruled = url_names() - ruled
    assert not unruled, f"give these URLs a rule in the authorization matrix: {sorted(unruled)}"


def page_variants(world: World) -> list[str]:
    """Every page with the query strings that choose what it lists, pointed at both orgs."""
    urls = []
    for name in sorted(SIGNED_IN_PAGES):
        base = reverse(name)
        urls.append(base)
        home, away = (world.orgs[side].organization.pk for side in ("home", "away"))
        urls += [f"{base}?org={home}", f"{base}?org={away}&status=all&q=555"]
    return urls


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_signed_in_pages(world, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    for persona in PERSONAS:
        client = world.clients[persona]
        for url in page_variants(world):
            response = client.get(url, headers=headers, secure=True)
            if persona == "anonymous":
                assert_sent_to_login(response, url)
                continue
            assert response.status_code in (200, 204, 400, 404), (persona, url)
            assert_nothing_hidden(world, persona, body_of(response), url)


def guessable_ids(world: World) -> set[int]:
    """Both calls' ids, their neighbours and absurd values: what someone editing URLs tries."""
    ids = {0, 2**31 - 1}
    for call in world.calls.values():
        ids |= {call.pk + step for step in range(-3, 4)}
    return {call_id for call_id in ids if call_id >= 0}


def test_call_urls_and_guessed_ids(world):
    for persona in PERSONAS:
        client = world.clients[persona]
        visible_ids = {world.calls[side].pk for side in world.visible(persona)}
        for call_id in sorted(guessable_ids(world)):
            for name, method in CALL_PAGES.items():
                url = reverse(name, kwargs={"call_id": call_id})
                response = getattr(client, method)(url, secure=True)
                if persona == "anonymous":
                    assert_sent_to_login(response, url)
                    continue
                if call_id in visible_ids:
                    assert response.status_code in (200, 302), (persona, url)
                    assert_nothing_hidden(world, persona, body_of(response), url)
                    continue
                assert response.status_code == 404, (persona, url, response.status_code)
                # The other method is no way round either.
                other = client.post if method == "get" else client.get
                assert other(url, secure=True).status_code in (404, 405), (persona, url)


def test_restricted_never_receives_full_numbers(world):
    client = world.clients["restricted"]
    home_call = world.calls["home"]
    urls = [*page_variants(world), reverse("calls:detail", kwargs={"call_id": home_call.pk})]
    for url in urls:
        text = body_of(client.get(url, secure=True))
        for shown in ("3105550147", "(310) 555-0147", "310-555-0147"):
            assert shown not in text, url


def test_exports(world):
    export = reverse("calls:export")
    for persona in PERSONAS:
        client = world.clients[persona]
        for query in ("", "?status=all", "?status=all&snapshots=1"):
            response = client.get(export + query, secure=True)
            where = f"{persona} {export}{query}"
            if persona == "anonymous":
                assert_sent_to_login(response, where)
                continue
            if persona == "restricted":
                assert response.status_code == 403, where
                continue
            assert response.status_code in (200, 403), where
            text = body_of(response)
            assert_nothing_hidden(world, persona, text, where)
            if response.status_code == 200 and query:
                for side in world.visible(persona):
                    assert MARKERS[side][0] in text, where
        # Naming another organization's id is no way in.
        for side in world.hidden(persona):
            if persona == "anonymous":
                continue
            foreign = world.orgs[side].organization.pk
            response = client.get(f"{export}?status=all&org={foreign}", secure=True)
            assert response.status_code in (403, 404), (persona, side)


def test_activity_csvs(world):
    for side in ("home", "away"):  # the markers become group labels of "where calls come from"
        organization = world.orgs[side].organization
        organization.pinned_fields = ["marker"]
        organization.save(update_fields=["pinned_fields"])
    for persona in PERSONAS:
        client = world.clients[persona]
        for chart in ("live", "hourly", "sources", "durations", "feed"):
            url = reverse("calls:activity_csv", kwargs={"chart": chart})
            for query in ("", *(f"?org={org.organization.pk}" for org in world.orgs.values())):
                response = client.get(url + query, secure=True)
                if persona == "anonymous":
                    assert_sent_to_login(response, url)
                    continue
                assert response.status_code == 200, (persona, url)
                text = body_of(response)
                assert_nothing_hidden(world, persona, text, url + query)
                if chart == "sources" and not query:
                    for side in world.visible(persona):
                        assert MARKERS[side][1] in text, (persona, side)


def test_lookup_never_reaches_another_organization(world, feed):
    for persona in ("agent", "supervisor", "restricted", "outsider"):
        client = world.clients[persona]
        for side in world.hidden(persona):
            org = world.orgs[side]
            before = feed.request_count(org.invoca_id)
            response = client.post(
                reverse("calls:find"),
                {"organization": org.organization.pk, "transaction_id": MARKERS[side][0]},
                secure=True,
            )
            assert response.status_code == 200, persona  # the form refuses the choice
            assert_nothing_hidden(world, persona, body_of(response), "find", typed=MARKERS[side][0])
            assert feed.request_count(org.invoca_id) == before, persona


def test_health_shows_names_to_staff_only(world):
    for persona in PERSONAS:
        response = world.clients[persona].get(reverse("healthz"), secure=True)
        assert response.status_code == 200
        text = body_of(response)
        names = [org.organization.name for org in world.orgs.values()]
        if persona == "staff":
            assert all(name in text for name in names)
        else:
            assert not any(name in text for name in names), persona
        assert_nothing_hidden(world, "anonymous", text, "healthz")


def test_metrics_answer_no_session_however_privileged(world, settings):
    settings.METRICS_TOKEN = "mtr-matrix-0a1b2c3d4e5f"
    for persona in PERSONAS:
        response = world.clients[persona].get(reverse("metrics"), secure=True)
        assert response.status_code == 401, persona
        assert "cipdash_" not in body_of(response), persona


def admin_urls(world: World) -> list[str]:
    objects = {
        model: model._default_manager.order_by("pk").first() for model in admin.site._registry
    }
    urls = [reverse("admin:index"), reverse("admin:app_list", kwargs={"app_label": "calls"})]
    for model, obj in objects.items():
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls += [reverse(f"{info}_changelist"), reverse(f"{info}_add")]
        if obj is not None:
            urls += [
                reverse(f"{info}_change", args=[obj.pk]),
                reverse(f"{info}_history", args=[obj.pk]),
            ]
    return urls


def test_admin_is_staff_only(world):
    urls = admin_urls(world)
    assert len(urls) > 10
    admin_login = reverse("admin:login")
    for persona in PERSONAS:
        client = world.clients[persona]
        for url in urls:
            response = client.get(url, secure=True)
            if persona == "staff":
                # Read-only admins refuse "add" with 403; everything else renders.
                assert response.status_code in (200, 403), (url, response.status_code)
            else:
                assert response.status_code == 302, (persona, url)
                assert response.headers["Location"].startswith(admin_login), (persona, url)
