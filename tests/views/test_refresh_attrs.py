"""A refreshing region carries its own refresh as htmx attributes: its page's URL with the
filters, a pace, one request at a time, and the version it shows, which each poll sends back
so that the server answers 204 while nothing changed."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from django.template import Context, Engine
from django.test import RequestFactory
from django.utils import timezone

from calls.models import Call
from tests.factories import call_payload
from tests.views.conftest import World, ingest

HTMX = {"HX-Request": "true"}


class _Attributes(HTMLParser):
    """The attributes of the first element with the id, as the browser reads them."""

    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id = element_id
        self.found: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if self.found is None and values.get("id") == self.element_id:
            self.found = values


def attributes(body: bytes, element_id: str) -> dict[str, str]:
    parser = _Attributes(element_id)
    parser.feed(body.decode())
    assert parser.found is not None, f"no #{element_id}"
    return parser.found


def poll(world: World, region: dict[str, str]) -> tuple[int, bytes]:
    """What htmx sends when the region's trigger fires: a GET of its URL with its headers."""
    headers = HTMX | json.loads(region["hx-headers"])
    response = world.client_for("agent").get(region["hx-get"], headers=headers)
    return response.status_code, response.content


@pytest.mark.parametrize(
    ("url", "region_id"),
    [
        ("/", "live-region"),
        ("/?q=0147", "live-region"),
        ("/wall/", "live-region"),
        ("/?wall=1", "live-region"),
        ("detail", "detail-region"),
    ],
)
def test_a_region_polls_its_own_url_with_the_version_it_shows(
    world: World, url: str, region_id: str
) -> None:
    url = f"/calls/{world.call.pk}/" if url == "detail" else url
    region = attributes(world.client_for("agent").get(url).content, region_id)
    assert region["hx-get"] == url
    assert region["hx-trigger"] == "every 2s, cipdash:refresh"
    assert (region["hx-swap"], region["hx-sync"]) == ("outerHTML", "this:drop")
    assert json.loads(region["hx-headers"]) == {"X-Feed-Version": region["data-version"]}
    assert poll(world, region) == (204, b"")

    ingest(world.home, [call_payload("HOME1"), call_payload("HOME2")])
    status, body = poll(world, region)
    assert status == 200
    swapped = attributes(body, region_id)
    assert swapped["data-version"] != region["data-version"]
    assert json.loads(swapped["hx-headers"]) == {"X-Feed-Version": swapped["data-version"]}
    assert swapped["hx-get"] == url and swapped["hx-trigger"] == region["hx-trigger"]
    assert poll(world, swapped) == (204, b"")


@pytest.mark.parametrize("ended", ["list", "call"])
def test_what_cannot_change_does_not_refresh_itself(world: World, ended: str) -> None:
    """The ended list, and an ended call's page. Nor does a click on it refresh it: an
    element with hx-get and no trigger would fetch on a click."""
    if ended == "list":
        url, region_id = "/?status=ended", "live-region"
    else:
        Call.objects.filter(pk=world.call.pk).update(ended_at=timezone.now())
        url, region_id = f"/calls/{world.call.pk}/", "detail-region"
    region = attributes(world.client_for("agent").get(url).content, region_id)
    assert not {name for name in region if name.startswith("hx-")}
    assert "data-poll" not in region


@pytest.mark.parametrize("url", ["/", "/?q=0147&status=ended"])
def test_refresh_now_fetches_the_region_without_a_version(world: World, url: str) -> None:
    body = world.client_for("agent").get(url).content
    link = next(attrs for attrs in _links(body) if attrs.get("hx-target") == "#live-region")
    assert link["href"] == link["hx-get"] == url
    assert (link["hx-swap"], link["hx-sync"]) == ("outerHTML", "#live-region:drop")
    assert "hx-headers" not in link  # no version: the server renders whatever it has
    response = world.client_for("agent").get(link["hx-get"], headers=HTMX)
    assert response.status_code == 200
    assert attributes(response.content, "live-region")


def _links(body: bytes) -> list[dict[str, str]]:
    links: list[dict[str, str]] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "a":
                links.append({name: value or "" for name, value in attrs})

    Links().feed(body.decode())
    return links


def test_the_version_header_is_json_whatever_the_version() -> None:
    """The version goes into a JSON object inside an HTML attribute: neither may break."""
    version = "v1'\"</div><b>&amp;\\"
    template = Engine.get_default().get_template("calls/_refresh_attrs.html")
    request = RequestFactory().get("/?q=a&b=<c>")
    rendered = template.render(Context({"version": version, "request": request}))
    region = attributes(f"<div id='r' {rendered}></div>".encode(), "r")
    assert json.loads(region["hx-headers"]) == {"X-Feed-Version": version}
    assert region["hx-get"] == "/?q=a&b=%3Cc%3E"
