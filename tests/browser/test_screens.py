"""Screenshots of every page at desk and phone widths, for a person to look at."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import ViewportSize

from calls.models import Call, OrganizationPollState
from tests.browser.conftest import DESK, PHONE, Session, db_lock
from tests.browser.scenario import floor_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_screenshots(open_session: Callable[..., Session], viewport: ViewportSize) -> None:
    floor = floor_create()
    with db_lock:
        hot = Call.objects.get(transaction_id="TXHOT1")
    anonymous = open_session(None, viewport)
    anonymous.goto("/login/")
    anonymous.page.get_by_label("Username").wait_for()
    anonymous.screenshot("login")

    session = open_session(floor.agent, viewport)
    session.goto("/")
    session.page.locator(".call-row").first.wait_for()
    session.screenshot("list")
    session.goto(f"/calls/{hot.pk}/")
    session.page.get_by_role("heading", name="Timeline").wait_for()
    session.screenshot("detail")
    session.goto("/wall/")
    session.page.locator(".wall-item").first.wait_for()
    session.screenshot("wallboard")
    session.goto("/calls/find/")
    session.screenshot("find")
    session.page.emulate_media(color_scheme="dark")
    session.goto("/")
    session.page.locator(".call-row").first.wait_for()
    session.screenshot("list-dark")
    session.goto(f"/calls/{hot.pk}/")
    session.screenshot("detail-dark")
    assert session.csp_errors == [] and anonymous.csp_errors == []


def test_screenshots_of_calls_the_feed_no_longer_confirms(
    open_session: Callable[..., Session],
) -> None:
    floor = floor_create()
    with db_lock:
        hot = Call.objects.get(transaction_id="TXHOT1")
        # The feed has been failing for ten minutes: no clean poll confirms its calls.
        OrganizationPollState.objects.filter(pk=floor.org.pk).update(
            last_success_at=timezone.now() - timedelta(minutes=10)
        )
    session = open_session(floor.agent, DESK)
    session.goto("/")
    session.page.get_by_text("unconfirmed since").first.wait_for()
    session.screenshot("list-unconfirmed")
    session.goto(f"/calls/{hot.pk}/")
    session.page.get_by_text("Unconfirmed since").wait_for()
    session.screenshot("detail-unconfirmed")
    assert session.csp_errors == []
