"""Real Chromium against pytest-django's live server.

The live server runs in a thread of this process. With the in-memory SQLite test database
that thread shares the test's connection, and Django forbids using it from both at once, so
the server handles one request at a time under `db_lock`, and tests hold the same lock
whenever they touch the database themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from calls.models import Organization
from tests.export.data import calls_ingest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
DESK: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}

db_lock = threading.RLock()


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    original = WSGIHandler.__call__

    def serialised(self: WSGIHandler, environ: Any, start_response: Any) -> Any:
        with db_lock:
            response = original(self, environ, start_response)
            # Read the body inside the lock: streaming responses query lazily.
            try:
                return [b"".join(response)]
            finally:
                response.close()

    monkeypatch.setattr(WSGIHandler, "__call__", serialised)
    return str(live_server.url)


@dataclass
class Session:
    """A signed-in browser tab plus what the page did, for assertions."""

    page: Page
    context: BrowserContext
    base: str
    requests: list[str] = field(default_factory=list)
    csp_errors: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def polls(self) -> int:
        """Live-region requests htmx made so far."""
        return len(self.requests)

    def screenshot(self, name: str) -> None:
        """Write a full-page screenshot, after checking nothing overflows sideways."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        width = self.page.viewport_size["width"] if self.page.viewport_size else 0
        scroll_width = self.page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{name} is {scroll_width} px wide at {width} px"
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)


@pytest.fixture
def open_session(chromium_browser: Browser, server: str) -> Iterator[Callable[..., Session]]:
    contexts: list[BrowserContext] = []

    def open_(
        user: User | None, viewport: ViewportSize = DESK, bypass_csp: bool = False
    ) -> Session:
        context = chromium_browser.new_context(viewport=viewport, bypass_csp=bypass_csp)
        contexts.append(context)
        if user is not None:
            client = Client()
            with db_lock:
                client.force_login(user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME]
            context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": server}])
        page = context.new_page()
        session = Session(page=page, context=context, base=server)
        page.on(
            "request",
            lambda request: (
                session.requests.append(request.url) if request.headers.get("hx-request") else None
            ),
        )
        page.on(
            "console",
            lambda message: (
                session.csp_errors.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.on("pageerror", lambda error: session.script_errors.append(str(error)))
        return session

    yield open_
    for context in contexts:
        context.close()


def ingest(org: Organization, payloads: list[dict[str, Any]], at: datetime | None = None) -> None:
    """One clean poll answer, applied as the worker would."""
    with db_lock:
        calls_ingest(org, payloads, at or timezone.now())
