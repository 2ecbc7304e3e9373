"""A restricted member sees on every page what the live list shows them: no place of the
caller in any field list (timeline, custom data, pinned fields, badges), phone numbers in
fields masked, and the dialled and destination numbers masked alike on every page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from calls.models import HighlightRule, PollKind, PollRun
from calls.presentation import field_shown
from calls.services.lookups import MASKED_NUMBER_LOOKUP
from calls.views.live_rows import row_cache
from tests.factories import call_payload
from tests.views.conftest import ECP, World, ingest

# Where the caller is, as Invoca's general fields and as a customer's own custom fields.
PLACE = {
    "city": "Springfieldia",
    "region": "Regionland",
    "qualified_regions": "Qualifiedshire",
    "zip_code": "90210",
    "verified_zip_code": "90211",
}
CUSTOM_PLACE = {"caller_city": "Customville", "ZipCode": "73301", "IPAddress": "203.0.113.9"}
DIALLED_FULL, DIALLED_MASKED = "(855) 717-4046", "•••• 4046"
DESTINATION_FULL, DESTINATION_MASKED = "(888) 555-0199", "•••• 0199"


def custom(values: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"value": value, "source": "Api"} for name, value in values.items()}


@pytest.fixture(autouse=True)
def empty_caches(db: None) -> Iterator[None]:
    cache.clear()
    row_cache.clear()
    yield
    cache.clear()
    row_cache.clear()


@pytest.fixture
def placed(world: World) -> World:
    """The world's call, then a second version of it with its place and more numbers."""
    world.home.pinned_fields = ["lead_type", "caller_city"]
    world.home.save(update_fields=["pinned_fields"])
    HighlightRule.objects.create(
        organization=world.home,
        field="caller_city",
        operator="equals",
        value="Customville",
        label="Local caller",
    )
    payload = call_payload(
        "HOME1",
        advertiser_campaign_name="Spring Promo",
        phone_type="Mobile",
        repeat_calling_phone_number="+13105550147",
        custom_data=custom(
            {"lead_type": "hot", "callback_phone": "+1 310 555 0100", **CUSTOM_PLACE}
        ),
        demographics_data=ECP,
        **PLACE,
    )
    ingest(world.home, [payload], timezone.now() + timedelta(seconds=3))
    return world


def page(world: World, persona: str, url: str) -> str:
    response = world.client_for(persona).get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_the_detail_page_hides_the_place_everywhere_for_restricted(placed: World) -> None:
    body = page(placed, "restricted", f"/calls/{placed.call.pk}/")
    for value in (*PLACE.values(), *CUSTOM_PLACE.values()):
        assert value not in body, value
    for heading in ("City", "Zip code", "caller_city", "ZipCode", "IPAddress"):
        assert f">{heading}<" not in body and f"{heading}</span>" not in body, heading
        assert f'data-field="{heading}"' not in body, heading
    assert "Local caller" not in body
    assert "Invoca says Mobile" not in body  # the line type, hidden on the list too
    assert "Raw payload" not in body
    # Numbers in fields are masked like the caller's.
    assert "310 555 0100" not in body and "•••• 0100" in body
    assert "+13105550147" not in body
    # What the restricted member may see is still there.
    assert 'data-field="lead_type"' in body and "Spring Promo" in body
    assert '<span class="change-what">custom · callback_phone</span>' in body


def test_the_detail_page_shows_all_of_it_to_an_agent(placed: World) -> None:
    body = page(placed, "agent", f"/calls/{placed.call.pk}/")
    for value in (*PLACE.values(), *CUSTOM_PLACE.values()):
        assert value in body, value
    assert "Local caller" in body and "Invoca says Mobile" in body
    for heading in ("City", "Zip code", "custom · caller_city", "custom · IPAddress"):
        assert f'<span class="change-what">{heading}</span>' in body, heading  # the timeline
    assert "+1 310 555 0100" in body


def test_the_list_and_wall_hide_pinned_places_and_their_badges(placed: World) -> None:
    for url in ("/", "/wall/"):
        body = page(placed, "restricted", url)
        assert "Customville" not in body and "Local caller" not in body, url
    agent = page(placed, "agent", "/")
    assert "Customville" in agent and "Local caller" in agent


@pytest.mark.parametrize(
    ("persona", "dialled", "destination"),
    [
        ("restricted", DIALLED_MASKED, DESTINATION_MASKED),
        ("agent", DIALLED_FULL, DESTINATION_FULL),
    ],
)
def test_the_dialled_number_is_shown_alike_on_every_page(
    placed: World, persona: str, dialled: str, destination: str
) -> None:
    hidden = DIALLED_FULL if dialled == DIALLED_MASKED else DIALLED_MASKED
    placed.home.pinned_fields = []
    placed.home.save(update_fields=["pinned_fields"])
    general = placed.call.general
    general.pop("advertiser_campaign_name", None)  # the wall shows the dialled number then
    type(placed.call).objects.filter(pk=placed.call.pk).update(general=general)
    detail = page(placed, persona, f"/calls/{placed.call.pk}/")
    assert f"<dd>{dialled}</dd>" in detail and f"<dd>{destination}</dd>" in detail
    for url in ("/", "/wall/", f"/calls/{placed.call.pk}/"):
        body = page(placed, persona, url)
        assert dialled in body and hidden not in body, url
        assert "717-4046" not in body or dialled == DIALLED_FULL, url


def test_find_never_asks_invoca_for_a_full_number_for_restricted(placed: World) -> None:
    response = placed.client_for("restricted").post(
        "/calls/find/",
        {
            "organization": placed.home.pk,
            "calling_phone_number": "+1 415 555 9999",
            "destination_phone_number": "+1 888 555 0000",
        },
    )
    assert response.status_code == 200
    assert MASKED_NUMBER_LOOKUP in response.content.decode()
    assert not PollRun.objects.filter(kind=PollKind.LOOKUP).exists()


def test_find_shows_a_restricted_member_the_call_by_its_last_four_digits(
    placed: World,
) -> None:
    response = placed.client_for("restricted").post(
        "/calls/find/",
        {
            "organization": placed.home.pk,
            "calling_phone_number": "+1 999 999 0147",  # not the caller: the same last four
            "destination_phone_number": "0199",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/calls/{placed.call.pk}/"


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("city", "Springfield", None),
        ("verified_zip_code", "90210", None),
        ("CallerState", "CA", None),
        ("IPAddress", "203.0.113.9", None),
        ("geo-location", "x", None),
        ("repeat_calling_phone_number", "+13105550147", "•••• 0147"),
        ("callback_phone", "yes", "yes"),
        ("lead_type", "hot", "hot"),
        ("ethnicity_score", "3", "3"),  # "city" inside a word is not a place
    ],
)
def test_field_shown_to_restricted(name: str, value: str, shown: str | None) -> None:
    assert field_shown(name=name, value=value, restricted=True) == shown
    assert field_shown(name=name, value=value, restricted=False) == value
