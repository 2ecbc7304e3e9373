"""What the pages share (calls.views.common): the version an htmx poll already shows, a page
selector's dataclass as context, and the headers that keep live answers out of caches."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from calls.views.common import (
    VERSION_HEADER,
    live_headers,
    no_change_response,
    page_context,
    shown_version,
)


def request_with(headers: dict[str, str]) -> HttpRequest:
    request = RequestFactory().get("/", headers=headers)
    request.htmx = HtmxDetails(request)  # type: ignore[attr-defined]
    return request


def test_only_an_htmx_poll_names_the_version_it_shows() -> None:
    assert shown_version(request_with({"HX-Request": "true", VERSION_HEADER: "7"})) == "7"
    assert shown_version(request_with({"HX-Request": "true"})) is None
    # A full page load always renders, whatever it sends.
    assert shown_version(request_with({VERSION_HEADER: "7"})) is None
    assert shown_version(RequestFactory().get("/", headers={VERSION_HEADER: "7"})) is None


@dataclass(frozen=True)
class Page:
    rows: tuple[str, ...]
    version: str


def test_a_page_becomes_its_fields_plus_what_the_view_adds() -> None:
    context = page_context(Page(rows=("a",), version="v1"), nav="live")
    assert context == {"rows": ("a",), "version": "v1", "nav": "live"}


def test_no_change_is_an_empty_uncached_204() -> None:
    response = no_change_response()
    assert (response.status_code, response.content) == (204, b"")
    assert "no-cache" in response["Cache-Control"]


def test_live_answers_vary_on_htmx_and_are_never_cached() -> None:
    response = live_headers(HttpResponse("rows"))
    assert "HX-Request" in response["Vary"]
    assert "no-store" in response["Cache-Control"]
