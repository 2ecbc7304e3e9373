"""The live region's refresh in a real browser: the pace the agent chose is the region's htmx
trigger on every page, after every swap and after a reload; each poll sends the version the
region shows; "Refresh now" fetches the rows while refresh is paused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Request, expect

from calls.models import Call
from tests.browser.conftest import Session, db_lock, ingest
from tests.browser.scenario import floor_create, live_call

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
OpenSession = Callable[..., Session]


def paced(seconds: int) -> str:
    return f"every {seconds}s, cipdash:refresh"


PAUSED = "cipdash:refresh"


def is_poll(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def test_the_chosen_pace_holds_across_swaps_reloads_and_pages(open_session: OpenSession) -> None:
    floor = floor_create()
    session = open_session(floor.agent)
    page = session.page
    session.goto("/")
    region = page.locator("#live-region")
    expect(region).to_have_attribute("hx-trigger", paced(2))

    page.locator("#refresh-interval").select_option("1")
    expect(region).to_have_attribute("hx-trigger", paced(1))
    ingest(floor.org, [*floor.payloads, live_call("TXPACE", seconds_ago=2)])
    with db_lock:
        new_id = Call.objects.get(transaction_id="TXPACE").pk
    expect(page.locator(f'tr[data-call-id="{new_id}"]')).to_be_visible()
    # The swapped-in region keeps the pace, and its polls send the version it shows.
    expect(region).to_have_attribute("hx-trigger", paced(1))
    with page.expect_request(is_poll) as polled:
        pass
    assert polled.value.headers.get("x-feed-version") == region.get_attribute("data-version")

    page.reload()
    expect(page.locator("#refresh-interval")).to_have_value("1")
    expect(region).to_have_attribute("hx-trigger", paced(1))
    session.goto("/wall/")
    expect(region).to_have_attribute("hx-trigger", paced(1))

    session.goto("/")
    page.locator("#refresh-interval").select_option("0")
    expect(region).to_have_attribute("hx-trigger", PAUSED)
    page.reload()
    expect(page.locator("#refresh-interval")).to_have_value("0")
    expect(region).to_have_attribute("hx-trigger", PAUSED)
    assert session.script_errors == [] and session.csp_errors == []


def test_refresh_now_fetches_the_rows_while_refresh_is_paused(open_session: OpenSession) -> None:
    floor = floor_create()
    session = open_session(floor.agent)
    page = session.page
    session.goto("/")
    page.locator("#refresh-interval").select_option("0")
    expect(page.locator("#live-region")).to_have_attribute("hx-trigger", PAUSED)
    page.evaluate("window.__notReloaded = true")

    ingest(floor.org, [*floor.payloads, live_call("TXNOW", seconds_ago=2)])
    with db_lock:
        new_id = Call.objects.get(transaction_id="TXNOW").pk
    with page.expect_request(is_poll) as fetched:
        page.get_by_role("link", name="Refresh now").click()
    expect(page.locator(f'tr[data-call-id="{new_id}"]')).to_be_visible()
    # No version: the server renders the rows whatever the page showed.
    assert "x-feed-version" not in fetched.value.headers
    assert page.evaluate("window.__notReloaded") is True
    expect(page.locator("#live-region")).to_have_attribute("hx-trigger", PAUSED)
    assert session.script_errors == [] and session.csp_errors == []
