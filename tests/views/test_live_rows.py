"""The live list's row cache: a cached row is the row a fresh render would print, for every
persona, after every kind of change, and never another organization's or role's."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils import timezone

from calls.models import (
    Call,
    HighlightRule,
    Membership,
    Organization,
    OrganizationPollState,
    Role,
    UserPreference,
)
from calls.presentation import CallRow, duration_text
from calls.templatetags.calls_ui import clip
from calls.views import live_rows
from calls.views.live_rows import KEYED_ROW_FIELDS, row_cache
from tests.factories import call_payload
from tests.views.conftest import ECP, World, ingest

MEMBERS = ["agent", "supervisor", "restricted", "staff", "outsider"]


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock(world: World, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A stopped clock a moment after the world's calls were seen, so that two renders of
    the same data are the same bytes."""
    stopped = Clock(timezone.now() + timedelta(seconds=1))
    monkeypatch.setattr(timezone, "now", lambda: stopped.at)
    return stopped


@pytest.fixture(autouse=True)
def empty_row_cache() -> Iterator[None]:
    row_cache.clear()
    yield
    row_cache.clear()


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the calls whose rows were rendered rather than taken from the cache."""
    rendered: list[int] = []
    render = live_rows._row_render

    def counted(row: CallRow, *, detail_url: str) -> tuple[str, str]:
        rendered.append(row.call.pk)
        return render(row, detail_url=detail_url)

    monkeypatch.setattr(live_rows, "_row_render", counted)
    return rendered


def region(world: World, persona: str, url: str = "/") -> str:
    response = world.client_for(persona).get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def fresh_region(world: World, persona: str, url: str = "/") -> str:
    """The region as a process that never rendered a row would print it."""
    row_cache.clear()
    return region(world, persona, url)


def same_as_fresh(world: World, persona: str, url: str = "/") -> str:
    """Render with whatever the cache holds, check it against a fresh render, return it."""
    cached = region(world, persona, url)
    assert cached == fresh_region(world, persona, url), (persona, url)
    return cached


@pytest.mark.usefixtures("clock")
def test_rows_come_from_the_cache_and_print_the_same_bytes(
    world: World, renders: list[int]
) -> None:
    HighlightRule.objects.create(organization=world.home, field="lead_type", value="hot", label="H")
    for persona in MEMBERS:
        first = fresh_region(world, persona)
        assert 'class="call-row' in first, persona
        renders.clear()
        assert region(world, persona) == first, persona
        assert renders == [], persona


@pytest.mark.usefixtures("clock")
def test_a_restricted_member_never_gets_rows_cached_for_other_roles(world: World) -> None:
    world.wealth_rule()
    for persona in ("agent", "supervisor", "staff"):
        unmasked = region(world, persona)
        assert "555-0147" in unmasked and "Dana Whitfield" in unmasked and "Rich" in unmasked
    restricted = same_as_fresh(world, "restricted")
    assert "0147" in restricted and "555-0147" not in restricted
    assert "Dana Whitfield" not in restricted and "Rich" not in restricted
    # And the other way round: rows cached for the restricted member unmask nothing.
    assert "555-0147" in same_as_fresh(world, "agent")


@pytest.mark.usefixtures("clock")
def test_identical_calls_in_two_organizations_keep_their_own_rows(world: World) -> None:
    ingest(world.away, [call_payload("HOME1")])  # the same payload as the home call
    twin = Call.objects.get(organization=world.away, transaction_id="HOME1")
    home = region(world, "agent")
    away = same_as_fresh(world, "outsider")
    assert f'href="/calls/{twin.pk}/"' in away and f'href="/calls/{world.call.pk}/"' not in away
    assert "Away Org" in away and "Home Org" not in away
    assert f'href="/calls/{twin.pk}/"' not in home and "Away Org" not in home


# Each change returns a piece of HTML that the agent's list shows only after it.
def _rename(world: World) -> str:
    Organization.objects.filter(pk=world.home.pk).update(name="Renamed <Org>")
    return "Renamed &lt;Org&gt;"


def _pin_another_field(world: World) -> str:
    Organization.objects.filter(pk=world.home.pk).update(pinned_fields=["utm_source"])
    return "<dt>utm_source</dt>"


def _home_call(world: World, **changes: object) -> dict[str, object]:
    """The world's home call as its next poll reports it, with `changes`."""
    bridge = world.call.bridge_start_time
    assert bridge is not None
    fields: dict[str, object] = {
        "bridge_start_time": bridge.isoformat(),
        "advertiser_campaign_name": "Spring Promo",
        "custom_data": {"lead_type": {"value": "hot", "source": "Api"}},
        "demographics_data": ECP,
    }
    return call_payload("HOME1", **(fields | changes))


def _change_the_campaign(world: World) -> str:
    ingest(world.home, [_home_call(world, advertiser_campaign_name="Autumn Promo")])
    return "Autumn Promo"


def _change_a_pinned_value(world: World) -> str:
    ingest(
        world.home,
        [_home_call(world, custom_data={"lead_type": {"value": "cold", "source": "Api"}})],
    )
    return ">cold<"


def _change_the_caller_profile(world: World) -> str:
    profile = {**ECP, "display_name_data_append": "Dana Ortiz"}
    ingest(world.home, [_home_call(world, demographics_data=profile)])
    return "Dana Ortiz"


def _change_the_calling_number(world: World) -> str:
    ingest(world.home, [_home_call(world, calling_phone_number="+12125550188")])
    return "(212) 555-0188"


def _change_the_dialled_number(world: World) -> str:
    ingest(world.home, [_home_call(world, called_phone_number="+18005550100")])
    return "(800) 555-0100"


def _move_the_bridge(world: World) -> str:
    bridge = world.call.bridge_start_time
    assert bridge is not None
    earlier = bridge - timedelta(minutes=30)
    ingest(world.home, [_home_call(world, bridge_start_time=earlier.isoformat())])
    return f'data-since="{int(earlier.timestamp() * 1000)}"'


def _add_a_highlight_rule(world: World) -> str:
    HighlightRule.objects.create(
        organization=world.home, field="lead_type", operator="present", label="Has lead"
    )
    return "Has lead"


def _an_earlier_call_from_the_same_number(world: World) -> str:
    ingest(world.home, [_home_call(world), call_payload("EARLIER")])
    Call.objects.filter(transaction_id="EARLIER").update(
        first_seen_at=world.call.first_seen_at - timedelta(days=1),
        ended_at=world.call.first_seen_at - timedelta(days=1),
    )
    return "Repeat \u00d71"


def _change_the_agents_time_zone(world: World) -> str:
    agent = world.users["agent"]
    assert agent is not None
    UserPreference.objects.create(user=agent, time_zone="Asia/Tokyo")
    return "+09:00"  # the offset of the bridge time's datetime attribute


def _restrict_the_agent(world: World) -> str:
    Membership.objects.filter(user=world.users["agent"]).update(role=Role.RESTRICTED)
    return "Number masked"


CHANGES = [
    _rename,
    _pin_another_field,
    _change_the_campaign,
    _change_a_pinned_value,
    _change_the_caller_profile,
    _change_the_calling_number,
    _change_the_dialled_number,
    _move_the_bridge,
    _add_a_highlight_rule,
    _an_earlier_call_from_the_same_number,
    _change_the_agents_time_zone,
    _restrict_the_agent,
]


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize("change", CHANGES, ids=[change.__name__.strip("_") for change in CHANGES])
def test_a_change_to_what_a_row_shows_renders_it_again(
    world: World, change: Callable[[World], str]
) -> None:
    before = region(world, "agent")  # fills the cache
    shown = change(world)
    assert shown not in before
    assert shown in same_as_fresh(world, "agent")


@pytest.mark.usefixtures("clock")
def test_a_call_that_ends_again_shows_its_new_end(world: World) -> None:
    def end(seconds_ago: int) -> str:
        ended_at = timezone.now() - timedelta(seconds=seconds_ago)
        Call.objects.filter(pk=world.call.pk).update(ended_at=ended_at)
        return f'data-until="{int(ended_at.timestamp() * 1000)}"'

    first = end(600)
    assert first in region(world, "agent", "/?status=ended")
    again = end(5)  # it came back, and ended again
    assert again in same_as_fresh(world, "agent", "/?status=ended")


def test_the_timer_text_follows_the_clock_on_cached_rows(
    world: World, clock: Clock, renders: list[int]
) -> None:
    start = world.call.bridge_start_time
    assert start is not None

    def timer() -> str:
        return f">{duration_text((clock.at - start).total_seconds())}</time>"

    assert timer() in region(world, "agent")
    clock.advance(65)
    # The feed kept answering: the call is still confirmed, and its timer runs.
    OrganizationPollState.objects.filter(pk=world.home.pk).update(last_success_at=clock.at)
    renders.clear()
    assert timer() in region(world, "agent")
    assert renders == []


def test_an_unconfirmed_calls_timer_stops_at_its_last_sighting(world: World, clock: Clock) -> None:
    """No poll for a minute: the row says since when the call is unconfirmed, and its
    timer (cached or not) stays where the feed last showed the call."""
    start, seen = world.call.bridge_start_time, world.call.last_seen_at
    assert start is not None
    stopped = f">{duration_text((seen - start).total_seconds())}</time>"
    clock.advance(65)
    body = same_as_fresh(world, "agent")
    assert stopped in body
    assert "unconfirmed since" in body and 'class="call-row is-unconfirmed"' in body
    clock.advance(60)
    assert stopped in region(world, "agent")


@pytest.mark.usefixtures("clock")
def test_a_full_cache_still_renders_every_row(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(row_cache, "_max_entries", 3)
    ingest(
        world.home,
        [call_payload("HOME1")]
        + [call_payload(f"MORE{n}", calling_phone_number=f"+1310555{n:04d}") for n in range(9)],
    )
    body = same_as_fresh(world, "agent")
    assert body.count('class="call-row') == 10
    assert len(row_cache._cache) <= 3  # type: ignore[attr-defined]


def test_the_row_key_reads_every_field_of_a_row() -> None:
    assert {field.name for field in dataclasses.fields(CallRow)} == KEYED_ROW_FIELDS


@pytest.mark.parametrize(
    "text",
    ["", "short", "x" * 60, "x" * 61, "y" * 500, "e\u0301" * 70, "مرحبا 😀" * 12, "<b>&amp;</b>"],
)
@pytest.mark.parametrize("length", [1, 30, 60, 80])
def test_clip_is_truncatechars(text: str, length: int) -> None:
    assert clip(text, length) == truncatechars(text, length)


@pytest.mark.parametrize("call_id", [1, 9, 10, 987_654_321_012, 2**62])
def test_detail_urls_are_the_reversed_ones(call_id: int) -> None:
    expected = reverse("calls:detail", kwargs={"call_id": call_id})
    assert live_rows._detail_urls()(call_id) == expected


@pytest.mark.parametrize("sent", ["0001-01-03T00:00:00Z", "9999-12-29T00:00:00Z"])
@pytest.mark.parametrize("time_zone", ["Etc/GMT+12", "Pacific/Kiritimati"])
def test_times_near_the_ends_of_the_calendar_show_in_any_time_zone(
    world: World, sent: str, time_zone: str
) -> None:
    agent = world.users["agent"]
    assert agent is not None
    UserPreference.objects.create(user=agent, time_zone=time_zone)
    ingest(world.home, [_home_call(world, bridge_start_time=sent, start_time=sent)])
    assert "Spring Promo" in fresh_region(world, "agent")
    detail = world.client_for("agent").get(reverse("calls:detail", args=[world.call.pk]))
    assert detail.status_code == 200


@pytest.mark.parametrize("stored", [5, "lead_type", {"lead_type": 1}, ["lead_type", 3, None]])
def test_a_pinned_fields_value_other_than_names_leaves_the_list_working(
    world: World, stored: object
) -> None:
    """The admin form takes names only; whatever else the column holds pins what names it has."""
    Organization.objects.filter(pk=world.home.pk).update(pinned_fields=stored)
    page = fresh_region(world, "agent")
    assert reverse("calls:detail", args=[world.call.pk]) in page  # the home call's row
    assert ("hot" in page) == isinstance(stored, list)  # lead_type is pinned from a list only
