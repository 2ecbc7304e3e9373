"""Caller detail: content, timeline, earlier calls, live refresh, refresh-now."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls.models import Call, PollKind, PollRun
from calls.sandbox.server import SandboxFeed
from tests.factories import ApiTokenFactory, call_payload
from tests.views.conftest import ECP, World, ingest

pytestmark = pytest.mark.usefixtures("empty_cache")
HTMX = {"HX-Request": "true"}


def detail(world: World, persona: str, call: Call, **headers: str):
    return world.client_for(persona).get(f"/calls/{call.pk}/", headers=headers)


def test_detail_shows_sources_grouped_demographics_and_timeline(world: World) -> None:
    later = timezone.now() + timedelta(seconds=4)
    ingest(
        world.home,
        [
            call_payload(
                "HOME1",
                advertiser_campaign_name="Spring Promo",
                custom_data={
                    "lead_type": {"value": "hot", "source": "Api"},
                    "queue": {"value": "claims", "source": "RoutingWebhookX"},
                },
                demographics_data=ECP,
            )
        ],
        later,
    )
    body = detail(world, "agent", world.call).content.decode()
    assert "RoutingWebhookX" in body and "claims" in body  # an unknown source, as it came
    for group in ("Identity", "Address", "Household"):
        assert f"<h3>{group}</h3>" in body
    assert "custom · queue" in body and "arrived:" in body  # what changed between snapshots
    assert "Raw payload" in body and "&quot;transaction_id&quot;: &quot;HOME1&quot;" in body
    assert "data-poll" in body and "Live" in body


def test_earlier_calls_from_the_same_number_are_linked(world: World) -> None:
    ingest(world.home, [call_payload("HOME1"), call_payload("OLDER"), call_payload("LATER")])
    Call.objects.filter(transaction_id="OLDER").update(
        first_seen_at=world.call.first_seen_at - timedelta(hours=1)
    )
    older, later = (
        Call.objects.get(transaction_id="OLDER"),
        Call.objects.get(transaction_id="LATER"),
    )
    body = detail(world, "agent", world.call).content.decode()
    assert f'href="/calls/{older.pk}/"' in body
    assert f'href="/calls/{later.pk}/"' not in body  # not an earlier call
    assert "Repeat \u00d71" in body
    row = next(
        r for r in world.client_for("agent").get("/").context["rows"] if r.call.pk == world.call.pk
    )
    assert row.repeat_count == 1


def test_the_repeat_count_is_the_lists_even_when_the_earlier_calls_cannot_be_opened(
    world: World,
) -> None:
    ingest(world.home, [call_payload("HOME1"), call_payload("OLD1"), call_payload("OLD2")])
    long_ago = world.call.first_seen_at - timedelta(days=2)
    Call.objects.filter(transaction_id__startswith="OLD").update(
        first_seen_at=long_ago, ended_at=long_ago + timedelta(minutes=5)
    )
    listed = next(
        r for r in world.client_for("agent").get("/").context["rows"] if r.call.pk == world.call.pk
    )
    assert listed.repeat_count == 2
    agent = detail(world, "agent", world.call).content.decode()  # no history for agents
    assert "Repeat \u00d72" in agent and "2 earlier calls." in agent
    assert "None of them can be opened" in agent and "First call" not in agent
    supervisor = detail(world, "supervisor", world.call).content.decode()
    assert "Repeat \u00d72" in supervisor and "None of them" not in supervisor
    assert supervisor.count('<li><a href="/calls/') == 2


def test_ended_call_is_marked_and_not_polled(world: World) -> None:
    ended_at = timezone.now() - timedelta(minutes=1)
    Call.objects.filter(pk=world.call.pk).update(ended_at=ended_at)
    response = detail(world, "agent", world.call, **HTMX)
    body = response.content.decode()
    assert "Ended at" in body
    assert "data-poll" not in body


def test_detail_fragment_204_and_constant_queries(world: World) -> None:
    first = detail(world, "agent", world.call, **HTMX)
    version = first.context["version"]
    assert (
        detail(world, "agent", world.call, **HTMX, **{"X-Feed-Version": version}).status_code == 204
    )

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert detail(world, "agent", world.call, **HTMX).status_code == 200
        return len(queries)

    few = count()
    for n in range(6):  # more snapshots and more earlier calls from the number
        ingest(
            world.home,
            [
                call_payload("HOME1", custom_data={"step": {"value": str(n), "source": "Api"}}),
                call_payload(f"PAST{n}"),
            ],
        )
    assert count() == few


def test_refresh_now_asks_invoca_once_per_window_and_ends_nothing(world: World) -> None:
    with SandboxFeed(seed=1, target_live=0) as feed:
        feed.add_organization(world.home.invoca_id, "home-token-9876")
        feed.population.add_call(
            world.home.invoca_id,
            call_payload("HOME1", custom_data={"lead_type": {"value": "warm", "source": "Api"}}),
        )
        world.home.api_base_url = feed.url
        world.home.save(update_fields=["api_base_url"])
        ApiTokenFactory.create(organization=world.home, secret="home-token-9876")
        ingest(world.home, [call_payload("HOME1"), call_payload("OTHER")])
        client = world.client_for("agent")
        response = client.post(f"/calls/{world.call.pk}/refresh/", follow=True)
        assert "Invoca returned 1 live call" in response.content.decode()
        assert feed.request_count(world.home.invoca_id) == 1
        again = client.post(f"/calls/{world.call.pk}/refresh/", follow=True)
        assert "moments ago" in again.content.decode()
        assert feed.request_count(world.home.invoca_id) == 1
    run = PollRun.objects.filter(kind=PollKind.LOOKUP).get()
    assert run.outcome == "filtered"
    assert Call.objects.get(transaction_id="HOME1").custom_data["lead_type"]["value"] == "warm"
    assert Call.objects.get(transaction_id="OTHER").ended_at is None
