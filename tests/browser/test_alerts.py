"""Opt-in sound and desktop alerts fire once per call per user, even with two tabs open."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Session, ingest
from tests.browser.scenario import floor_create, live_call

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Stand-ins that count what the page asked for: headless Chromium has no speakers or desktop.
COUNTING_ALERTS = """
window.__beeps = 0; window.__notices = 0;
window.AudioContext = class {
  constructor() { window.__beeps += 1; this.currentTime = 0; this.destination = {}; }
  createOscillator() {
    return {frequency: {}, connect: (g) => g, start() {}, stop() {}};
  }
  createGain() {
    return {gain: {setValueAtTime() {}, exponentialRampToValueAtTime() {}}, connect() {}};
  }
};
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor() { window.__notices += 1; }
};
localStorage.setItem("cipdash:sound", "1");
localStorage.setItem("cipdash:notify", "1");
localStorage.setItem("cipdash:refresh-seconds", "1");
"""


def test_new_call_alerts_once_across_tabs(open_session: Callable[..., Session]) -> None:
    floor = floor_create()
    first = open_session(floor.agent)
    first.context.add_init_script(COUNTING_ALERTS)
    second_page = first.context.new_page()
    first.goto("/")
    second_page.goto(first.base + "/")
    for page in (first.page, second_page):
        expect(page.locator("[data-opt-sound]")).to_be_checked()

    ingest(floor.org, [*floor.payloads, live_call("TXALERT", seconds_ago=0)])
    for page in (first.page, second_page):
        expect(page.locator(".call-row.is-new")).to_have_count(1, timeout=4000)
    first.page.wait_for_timeout(300)
    beeps = sum(page.evaluate("window.__beeps") for page in (first.page, second_page))
    notices = sum(page.evaluate("window.__notices") for page in (first.page, second_page))
    assert (beeps, notices) == (1, 1)
    assert first.script_errors == []
