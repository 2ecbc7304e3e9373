"""Django admin in a real Chromium, under the site's strict Content Security Policy."""

from __future__ import annotations

import pytest
from django.middleware.security import SecurityMiddleware
from django.urls import reverse

from calls.models import ApiToken, OrganizationStatus
from tests.browser.conftest import db_lock
from tests.factories import ApiTokenFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _plain_http(monkeypatch):
    """The live server speaks plain HTTP; with production settings (the PostgreSQL run) the
    security middleware, set up once for the whole server, would redirect it to HTTPS."""
    monkeypatch.setattr(SecurityMiddleware, "process_request", lambda self, request: None)


def test_token_rotation_in_the_browser_under_csp(open_session):
    with db_lock:
        staff = UserFactory.create(is_staff=True, is_superuser=True)
        org = OrganizationFactory.create(name="Acme", status=OrganizationStatus.AUTH_FAILED)
        ApiTokenFactory.create(organization=org, secret="first-secret-AAAA")
    session = open_session(staff)
    session.goto(reverse("admin:calls_organization_changelist"))
    label = session.page.locator(".org-status-auth_failed")
    assert label.inner_text() == "auth_failed"
    # The label's colour comes from our stylesheet, which the CSP lets through.
    assert label.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(198, 40, 40)"

    session.goto(reverse("admin:calls_organization_change", args=[org.pk]))
    assert "…AAAA" in session.page.locator("#tokens-group").inner_text()
    secret_input = session.page.locator('input[name="tokens-1-secret"]')
    assert secret_input.get_attribute("type") == "password"
    assert secret_input.input_value() == ""
    # The inline's "Add another" link is admin JavaScript: it must run under the CSP.
    session.page.locator("#tokens-group .add-row a").click()
    assert session.page.locator('input[name="tokens-2-secret"]').count() == 1
    session.page.locator('input[name="tokens-2-secret"]').fill("second-secret-BBBB")
    session.page.locator('input[name="_continue"]').click()
    session.page.wait_for_load_state()
    assert "changed successfully" in session.page.locator(".messagelist").inner_text()
    html = session.page.content()
    assert "…BBBB" in html and "second-secret-BBBB" not in html
    assert session.csp_errors == [] and session.script_errors == []
    with db_lock:
        assert ApiToken.objects.get(organization=org, active=True).last4 == "BBBB"
        org.refresh_from_db()
        assert org.poll_state.status == OrganizationStatus.OK
