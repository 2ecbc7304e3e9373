"""The live list and its fragment: content per role, the 204 path, filters, query budget."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls.models import Call, HighlightRule, OrganizationPollState
from tests.factories import call_payload
from tests.views.conftest import World, ingest

if TYPE_CHECKING:
    # The test client's response type, with .context; it exists only in the stubs.
    from django.test.client import _MonkeyPatchedWSGIResponse

HTMX = {"HX-Request": "true"}


def fragment(
    world: World, persona: str, url: str = "/", version: str = ""
) -> _MonkeyPatchedWSGIResponse:
    headers = {**HTMX, "X-Feed-Version": version} if version else HTMX
    return world.client_for(persona).get(url, headers=headers)


def test_agent_sees_formatted_caller_place_pinned_fields_ecp_and_badges(world: World) -> None:
    HighlightRule.objects.create(
        organization=world.home, field="lead_type", value="HOT", label="Hot lead"
    )
    body = world.client_for("agent").get("/").content.decode()
    assert "(310) 555-0147" in body
    assert "California" in body
    assert "Spring Promo" in body and "(855) 717-4046" in body
    assert "lead_type" in body and ">hot<" in body
    assert "Dana Whitfield" in body and "Torrance, CA" in body
    assert "Hot lead" in body
    assert "Feed down" not in body


def test_restricted_sees_masked_number_and_no_demographics(world: World) -> None:
    world.wealth_rule()
    for url in ("/", f"/calls/{world.call.pk}/", "/wall/"):
        body = world.client_for("restricted").get(url).content.decode()
        assert "0147" in body, url
        assert "555-0147" not in body and "+13105550147" not in body, url
        assert "Dana Whitfield" not in body and "Torrance" not in body, url
        assert "Rich" not in body, url
    assert "Rich" in world.client_for("agent").get("/").content.decode()


def test_unchanged_fragment_answers_204_without_rendering(world: World) -> None:
    first = fragment(world, "agent")
    version = first.context["version"]
    assert first.status_code == 200 and f'data-version="{version}"' in first.content.decode()
    world.client_for("agent")
    with CaptureQueriesContext(connection) as queries:
        again = fragment(world, "agent", version=version)
    assert again.status_code == 204 and again.content == b""
    # session + user + the one version query
    assert len(queries) <= 3
    assert not getattr(again, "templates", [])

    ingest(world.home, [call_payload("HOME1"), call_payload("HOME2")])
    changed = fragment(world, "agent", version=version)
    assert changed.status_code == 200 and b"HOME2" not in changed.content  # ids are not shown
    assert changed.context["version"] != version
    assert len(changed.context["rows"]) == 2


def test_version_differs_per_filter_role_and_feed_health(world: World) -> None:
    agent = fragment(world, "agent").context["version"]
    assert fragment(world, "agent", "/?q=0147").context["version"] != agent
    assert fragment(world, "restricted").context["version"] != agent
    OrganizationPollState.objects.filter(pk=world.home.pk).update(
        last_success_at=timezone.now() - timedelta(minutes=5)
    )
    stale = fragment(world, "agent", version=agent)
    assert stale.status_code == 200, "a feed going stale is news even with no new calls"
    assert "Feed down" in stale.content.decode()


def test_fragment_queries_do_not_grow_with_calls(world: World) -> None:
    HighlightRule.objects.create(organization=world.home, field="lead_type", value="hot", label="H")

    world.client_for("agent")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert fragment(world, "agent").status_code == 200
        return len(queries)

    few = count()
    ingest(
        world.home,
        [call_payload(f"BULK{n}", calling_phone_number=f"+1310555{n:04d}") for n in range(40)],
    )
    assert count() == few


def test_search_by_phone_in_any_format_transaction_and_custom_value(world: World) -> None:
    client = world.client_for("agent")
    for query in ("310-555-0147", "(310) 555 0147", "+13105550147", "home1", "hot"):
        rows = client.get("/", {"q": query}).context["rows"]
        assert [row.call.transaction_id for row in rows] == ["HOME1"], query
    assert client.get("/", {"q": "nothing-like-this"}).context["rows"] == []
    # A NUL (which PostgreSQL refuses in any text) is dropped, not a failed page.
    rows = client.get("/", {"q": "HO\x00ME1"}).context["rows"]
    assert [row.call.transaction_id for row in rows] == ["HOME1"]


def test_foreign_org_filter_is_ignored(world: World) -> None:
    response = world.client_for("agent").get("/", {"org": world.away.pk})
    assert response.context["filters"].organization_id is None
    assert "AWAY" not in response.content.decode()


def test_ended_history_is_for_supervisors(world: World) -> None:
    long_ago = timezone.now() - timedelta(days=2)
    Call.objects.filter(pk=world.call.pk).update(ended_at=long_ago)
    assert [
        r.call.pk for r in world.client_for("supervisor").get("/?status=ended").context["rows"]
    ] == [world.call.pk]
    assert world.client_for("agent").get("/?status=ended").context["rows"] == []
    assert world.client_for("agent").get(f"/calls/{world.call.pk}/").status_code == 404
    assert world.client_for("supervisor").get(f"/calls/{world.call.pk}/").status_code == 200
    recently = timezone.now() - timedelta(minutes=5)
    Call.objects.filter(pk=world.call.pk).update(ended_at=recently)
    assert len(world.client_for("agent").get("/?status=ended").context["rows"]) == 1
    assert world.client_for("agent").get(f"/calls/{world.call.pk}/").status_code == 200


HOSTILE = '"><img src=x onerror=alert(1)><script>alert(2)</script>'


def test_hostile_values_render_as_text(world: World) -> None:
    world.home.pinned_fields = ["evil", "long"]
    world.home.save()
    ingest(
        world.home,
        [
            call_payload(
                "EVIL1",
                advertiser_campaign_name=HOSTILE,
                custom_data={
                    "evil": {"value": HOSTILE, "source": HOSTILE},
                    "long": {"value": "x" * 10_000, "source": "Api"},
                    "rtl": {"value": "مرحبا 😀", "source": "Api"},
                },
            )
        ],
    )
    evil = Call.objects.get(transaction_id="EVIL1")
    for url in ("/", f"/calls/{evil.pk}/"):
        body = world.client_for("agent").get(url).content.decode()
        assert "<script>alert(2)" not in body and "<img src=x" not in body, url
        assert "&lt;script&gt;alert(2)" in body, url
    detail = world.client_for("agent").get(f"/calls/{evil.pk}/").content.decode()
    assert "x" * 10_000 in detail and "مرحبا 😀" in detail
    assert "x" * 10_000 not in world.client_for("agent").get("/").content.decode()


def test_login_page_and_logout(world: World) -> None:
    client = world.client_for("anonymous")
    page = client.get("/login/?next=/")
    assert page.status_code == 200 and b"Sign in" in page.content
    assert b"session ended" in page.content
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    agent = world.client_for("agent")
    assert agent.post("/logout/").status_code == 302
    assert agent.get("/").status_code == 302


def test_wallboard_has_large_rows_and_no_controls(world: World) -> None:
    for url in ("/wall/", "/?wall=1"):
        page = world.client_for("agent").get(url).content.decode()
        assert "wall-item" in page and "(310) 555-0147" in page, url
        assert "<form" not in page and "data-refresh-controls" not in page, url
        rows = fragment(world, "agent", url).content.decode()
        assert rows.lstrip().startswith('<div id="live-region" class="live-region wall-region"'), (
            url
        )
