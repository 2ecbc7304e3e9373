"""The agent's screens in a real browser: calls appear, tick, highlight, update in place,
end without vanishing; refresh pauses; the stale-feed banner shows when the feed dies."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.contrib.sessions.models import Session as DjangoSession
from playwright.sync_api import expect

from calls.models import Call, OrganizationStatus
from calls.sandbox.server import SandboxFeed
from calls.services import organization_poll
from tests.browser.conftest import Session, db_lock, ingest
from tests.browser.scenario import floor_create, live_call
from tests.factories import ApiTokenFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
OpenSession = Callable[..., Session]


def set_refresh(session: Session, value: str) -> None:
    session.page.locator("#refresh-interval").select_option(value)


def test_new_call_appears_ticks_highlights_and_updates_in_place(open_session: OpenSession) -> None:
    floor = floor_create()
    # Enough rows to scroll, so that keeping the scroll position means something.
    filler = [
        live_call(f"TXFILL{n:02d}", seconds_ago=600 + n, calling_phone_number=f"+1212555{n:04d}")
        for n in range(25)
    ]
    ingest(floor.org, floor.payloads + filler)
    session = open_session(floor.agent, {"width": 1280, "height": 600})
    session.goto("/")
    set_refresh(session, "1")
    page = session.page
    page.evaluate("window.__notReloaded = true")

    ingest(
        floor.org,
        [
            *floor.payloads,
            *filler,
            live_call(
                "TXNEW",
                seconds_ago=1,
                calling_phone_number="+16175550123",
                custom_data={"lead_type": {"value": "HOT", "source": "Api"}},
            ),
        ],
    )
    with db_lock:
        new_id = Call.objects.get(transaction_id="TXNEW").pk
        hot_id = Call.objects.get(transaction_id="TXHOT1").pk
    row = page.locator(f'tr[data-call-id="{new_id}"]')
    expect(row).to_be_visible(timeout=3000)  # within one refresh (1 s) plus slack
    expect(row).to_have_class(re.compile(r"\bis-new\b"))
    expect(row).to_have_class(re.compile(r"\bis-highlighted\b"))
    expect(row.locator(".badge-red")).to_have_text("Hot lead")
    expect(page.locator("[data-announcer]")).to_contain_text("New call from (617) 555-0123")

    timer = row.locator("time.timer")
    first = timer.inner_text()
    expect(timer).not_to_have_text(first, timeout=3000)  # it ticks in the browser
    second = timer.inner_text()
    expect(timer).not_to_have_text(second, timeout=3000)
    assert session.script_errors == []

    # A custom field changes while the agent is scrolled down, with the keyboard focus on a
    # row: it shows up in place, and scroll and focus stay where they were.
    page.locator(f"#call-link-{new_id}").focus()
    page.mouse.wheel(0, 500)
    for _ in range(50):  # (wait_for_function would need eval, which the CSP forbids)
        if page.evaluate("window.scrollY") > 300:
            break
        page.wait_for_timeout(50)
    scrolled = page.evaluate("window.scrollY")
    changed = [dict(p) for p in floor.payloads]
    changed[0] = {
        **changed[0],
        "custom_data": {**changed[0]["custom_data"], "policy": {"value": "HOME-7", "source": "X"}},
    }
    ingest(floor.org, [*changed, *filler])
    expect(page.locator(f'tr[data-call-id="{hot_id}"]')).to_contain_text("HOME-7")
    assert page.evaluate("window.scrollY") == scrolled
    assert page.evaluate("document.activeElement.id") == f"call-link-{new_id}"
    assert page.evaluate("window.__notReloaded") is True
    assert session.csp_errors == []


def test_unchanged_polls_are_204_and_pause_and_hidden_tab_stop_them(
    open_session: OpenSession,
) -> None:
    floor = floor_create()
    session = open_session(floor.agent)
    statuses: list[int] = []
    session.page.on(
        "response",
        lambda response: (
            statuses.append(response.status) if response.request.headers.get("hx-request") else None
        ),
    )
    session.goto("/")
    set_refresh(session, "1")
    session.page.wait_for_timeout(2500)
    assert statuses and set(statuses) == {204}, "nothing changed: empty answers only"
    expect(session.page.locator("[data-updated]")).to_have_text("updated just now")

    set_refresh(session, "0")
    session.page.wait_for_timeout(300)
    paused_at = session.polls()
    session.page.wait_for_timeout(2500)
    assert session.polls() == paused_at, "paused: no requests"

    set_refresh(session, "1")
    session.page.wait_for_timeout(1500)
    assert session.polls() > paused_at
    session.page.evaluate(
        """() => {
        Object.defineProperty(document, 'hidden', {value: true, configurable: true});
        Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
    }"""
    )
    session.page.wait_for_timeout(300)
    hidden_at = session.polls()
    session.page.wait_for_timeout(2500)
    assert session.polls() == hidden_at, "hidden tab: no requests"
    session.page.evaluate(
        """() => {
        Object.defineProperty(document, 'hidden', {value: false, configurable: true});
        Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
    }"""
    )
    session.page.wait_for_timeout(700)
    assert session.polls() > hidden_at, "visible again: refreshes at once"


def test_ended_call_stays_on_detail_marked_ended(open_session: OpenSession) -> None:
    floor = floor_create()
    with db_lock:
        call = Call.objects.get(transaction_id="TXQUIET")
    session = open_session(floor.agent)
    session.goto(f"/calls/{call.pk}/")
    expect(session.page.locator(".status-live")).to_be_visible()
    others = [p for p in floor.payloads if p["transaction_id"] != "TXQUIET"]
    ingest(floor.org, others)
    ingest(floor.org, others)  # missing from two clean polls: ended
    ended = session.page.locator(".status-ended")
    expect(ended).to_contain_text("Ended at", timeout=5000)
    expect(session.page.locator(".caller-number")).to_have_text("(212) 555-0188")
    session.page.wait_for_timeout(300)
    settled = session.polls()
    session.page.wait_for_timeout(2500)
    assert session.polls() == settled, "an ended call stops refreshing"


def test_stale_feed_banner_appears_when_the_feed_dies(open_session: OpenSession) -> None:
    floor = floor_create()
    with SandboxFeed(seed=3, target_live=0) as feed:
        feed.add_organization(floor.org.invoca_id, "sandbox-token-1234")
        with db_lock:
            org = floor.org
            org.refresh_from_db()
            org.api_base_url = feed.url
            org.poll_interval_seconds = 1.0
            org.save(update_fields=["api_base_url", "poll_interval_seconds"])
            ApiTokenFactory.create(organization=org, secret="sandbox-token-1234")
            assert organization_poll(organization=org).clean
        session = open_session(floor.agent)
        session.goto("/")
        expect(session.page.locator(".banner-danger")).to_have_count(0)

        feed.set_fault(503, floor.org.invoca_id)
        with db_lock:
            org.refresh_from_db()
            attempt = organization_poll(organization=org)
            assert attempt.error is not None
        banner = session.page.locator(".banner-danger")
        expect(banner).to_contain_text("Feed down", timeout=8000)
        expect(banner).to_contain_text("Last good poll")

        feed.clear_faults()
        feed.set_fault(401, floor.org.invoca_id)
        with db_lock:
            org.refresh_from_db()
            organization_poll(organization=org)
            org.refresh_from_db()
            assert org.poll_state.status == OrganizationStatus.AUTH_FAILED
        expect(banner).to_contain_text("refused", timeout=5000)
        assert "sandbox-token-1234" not in session.page.content()


def test_expired_session_sends_htmx_poll_to_login(open_session: OpenSession) -> None:
    floor = floor_create()
    session = open_session(None)
    session.goto("/")
    expect(session.page).to_have_url(re.compile(r"/login/\?next=/"))
    session.page.get_by_label("Username").fill("agent")
    session.page.get_by_label("Password").fill("correct horse battery staple")
    session.page.get_by_role("button", name="Sign in").click()
    expect(session.page.get_by_role("heading", name="Live calls")).to_be_visible()
    set_refresh(session, "1")
    with db_lock:
        DjangoSession.objects.all().delete()
    expect(session.page).to_have_url(re.compile(r"/login/"), timeout=5000)
    expect(session.page.locator(".notice")).to_contain_text("session ended")
    del floor
