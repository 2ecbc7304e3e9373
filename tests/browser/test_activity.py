"""The Activity page and the wallboard's trend in real Chromium: charts drawn under the CSP,
screenshots at desk and phone widths in light and dark, axe clean, and the organization
picker and every "Show data" reachable from the keyboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import pytest
from django.utils import timezone
from playwright.sync_api import Response, ViewportSize, expect

from calls.models import Role
from tests.browser.activity_history import activity_history_create
from tests.browser.conftest import DESK, PHONE, Session, db_lock
from tests.browser.scenario import Floor, floor_create
from tests.browser.test_accessibility import axe_problems
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHARTS_DRAWN = 4  # every chart but "where calls come from", which is HTML meters


def floor_with_history() -> Floor:
    floor = floor_create()
    with db_lock:
        activity_history_create(floor.org, now=timezone.now())
    return floor


def is_refresh(response: Response) -> bool:
    return response.request.headers.get("hx-request") == "true"


def charts_drawn(session: Session) -> int:
    session.page.locator("#activity-region [data-chart] canvas").nth(CHARTS_DRAWN - 1).wait_for()
    return session.page.locator("#activity-region [data-chart] canvas").count()


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_screenshots_light_and_dark(
    open_session: Callable[..., Session], viewport: ViewportSize
) -> None:
    floor = floor_with_history()
    session = open_session(floor.supervisor, viewport)
    schemes: tuple[tuple[Literal["light", "dark"], str], ...] = (
        ("light", "activity"),
        ("dark", "activity-dark"),
    )
    for scheme, name in schemes:
        session.page.emulate_media(color_scheme=scheme)
        session.goto("/activity/")
        assert charts_drawn(session) == CHARTS_DRAWN
        session.screenshot(name)
    session.page.emulate_media(color_scheme="dark")
    session.goto("/wall/")
    session.page.locator("[data-wall-trend] canvas").wait_for()
    session.screenshot("wallboard-trend")
    assert session.csp_errors == [] and session.script_errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(
    open_session: Callable[..., Session], scheme: Literal["light", "dark"]
) -> None:
    floor = floor_with_history()
    session = open_session(floor.agent, bypass_csp=True)
    session.page.emulate_media(color_scheme=scheme)
    session.goto("/activity/")
    charts_drawn(session)
    session.page.locator("details.chart-data").first.evaluate("d => { d.open = true; }")
    assert axe_problems(session) == []
    restricted = open_session(floor.restricted, bypass_csp=True)
    restricted.goto("/activity/")
    assert axe_problems(restricted) == []


def test_keyboard_reaches_the_picker_and_every_show_data(
    open_session: Callable[..., Session],
) -> None:
    floor = floor_with_history()
    with db_lock:
        other = OrganizationFactory.create(name="Beta Brokers")
        MembershipFactory.create(organization=other, user=floor.agent, role=Role.AGENT)
    session = open_session(floor.agent)
    session.goto("/activity/")
    charts_drawn(session)
    reached: list[str] = []
    for _ in range(60):
        session.page.keyboard.press("Tab")
        reached.append(
            session.page.evaluate(
                "() => { const e = document.activeElement;"
                " return e.tagName + ':' + (e.id || e.parentElement.id); }"
            )
        )
    assert "SELECT:a-org" in reached
    summaries = {entry for entry in reached if entry.startswith("SUMMARY:")}
    assert summaries == {
        f"SUMMARY:chart-{chart}-table"
        for chart in ("live", "hourly", "sources", "durations", "feed")
    }
    # Enter on a focused summary opens its table.
    summary = session.page.locator("#chart-hourly-table summary")
    summary.focus()
    session.page.keyboard.press("Enter")
    assert session.page.locator("#chart-hourly-table table").is_visible()
    session.page.select_option("#a-org", label="Beta Brokers")
    session.page.get_by_role("button", name="Show").click()
    session.page.wait_for_url("**/activity/?org=*")
    assert "0 live now" in session.page.locator("#activity-region").inner_text()


def test_refreshes_every_minute_pauses_while_hidden_and_keeps_charts_on_204(
    open_session: Callable[..., Session],
) -> None:
    floor = floor_with_history()
    session = open_session(floor.agent)
    page = session.page
    session.goto("/")
    page.locator("#refresh-interval").select_option("1")  # the list's pace is not the page's
    session.goto("/activity/")
    region = page.locator("#activity-region")
    expect(region).to_have_attribute("hx-trigger", "every 60s, cipdash:refresh")
    charts_drawn(session)
    with page.expect_response(is_refresh) as answered:
        page.evaluate("htmx.trigger('#activity-region', 'cipdash:refresh')")
    assert answered.value.status == 204
    shown = region.get_attribute("data-version")
    assert answered.value.request.headers.get("x-feed-version") == shown
    assert charts_drawn(session) == CHARTS_DRAWN
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
        " document.dispatchEvent(new Event('visibilitychange'))"
    )
    expect(region).to_have_attribute("hx-trigger", "cipdash:refresh")
    assert session.script_errors == [] and session.csp_errors == []
