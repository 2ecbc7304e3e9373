"""Organization admin: tokens, validation, health columns and the four actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from calls.admin.organizations import time_ago
from calls.invoca import url_origin
from calls.models import (
    ApiToken,
    AuditEvent,
    Call,
    OrganizationStatus,
    PollKind,
    PollOutcome,
    PollRun,
)
from calls.sandbox.server import SandboxFeed
from calls.services.polling import api_token_active
from tests.admin.test_pages import org_form
from tests.export.data import T0, calls_ingest
from tests.factories import ApiTokenFactory, OrganizationFactory, UserFactory, call_payload

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:calls_organization_changelist")


@pytest.fixture(scope="module")
def feed():
    with SandboxFeed(seed=0, target_live=0) as sandbox:
        sandbox.add_organization("5001", "good-token-5001")
        sandbox.serve_static(
            "5001", {"current_calls": [call_payload("S1"), call_payload("S2"), call_payload("S3")]}
        )
        yield sandbox


def act(client, action, *organizations):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(org.pk) for org in organizations]},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_new_token_in_the_inline_rotates_and_resumes_an_auth_failed_org(client, staff):
    org = OrganizationFactory.create(status=OrganizationStatus.AUTH_FAILED, consecutive_failures=3)
    old = ApiTokenFactory.create(organization=org, secret="old-secret-AAAA")
    response = client.post(
        reverse("admin:calls_organization_change", args=[org.pk]),
        org_form(org, tokens=[old], new_token="  new-secret-BBBB  "),
    )
    assert response.status_code == 302
    new = ApiToken.objects.get(organization=org, active=True)
    assert new.last4 == "BBBB" and new.reveal_secret() == "new-secret-BBBB"
    old.refresh_from_db()
    assert not old.active
    org.refresh_from_db()
    assert org.poll_state.status == OrganizationStatus.OK
    assert org.poll_state.consecutive_failures == 0
    assert org.poll_state.next_poll_at is not None
    event = AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_ADDED)
    assert event.actor == staff and event.organization == org and event.object_id == str(new.pk)


def test_a_new_token_row_without_secret_is_refused(client, staff):
    org = OrganizationFactory.create()
    data = org_form(org, new_token="x")
    data["tokens-0-secret"] = ""
    response = client.post(reverse("admin:calls_organization_change", args=[org.pk]), data)
    assert response.status_code == 200
    assert "Enter the token" in response.content.decode()
    assert not ApiToken.objects.filter(organization=org).exists()


def test_standalone_token_add_goes_through_the_token_service(client, staff):
    org = OrganizationFactory.create(status=OrganizationStatus.AUTH_FAILED)
    old = ApiTokenFactory.create(organization=org)
    response = client.post(
        reverse("admin:calls_apitoken_add"),
        {"organization": org.pk, "label": "ops", "secret": "standalone-CCCC"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    token = ApiToken.objects.get(last4="CCCC")
    assert token.active and token.label == "ops"
    old.refresh_from_db()
    assert not old.active
    org.refresh_from_db()
    assert org.poll_state.status == OrganizationStatus.OK
    page = client.get(reverse("admin:calls_apitoken_change", args=[token.pk])).content.decode()
    assert "…CCCC" in page and "standalone-CCCC" not in page


def test_deactivating_a_token_is_audited(client, staff):
    org = OrganizationFactory.create()
    token = ApiTokenFactory.create(organization=org)
    response = client.post(
        reverse("admin:calls_apitoken_change", args=[token.pk]), {"label": "retired"}
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert not token.active and token.label == "retired"
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.TOKEN_DEACTIVATED, object_id=str(token.pk)
    ).exists()


def test_base_url_must_be_https_unless_debug(client, staff):
    org = OrganizationFactory.create()
    url = reverse("admin:calls_organization_change", args=[org.pk])
    response = client.post(url, org_form(org, api_base_url="http://invoca.example/api/2022-08-01"))
    assert response.status_code == 200
    assert "must start with https://" in response.content.decode()
    with override_settings(DEBUG=True):
        response = client.post(url, org_form(org, api_base_url="http://127.0.0.1:9/api/2022-08-01"))
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.api_base_url == "http://127.0.0.1:9/api/2022-08-01"


def test_settings_changes_and_members_are_audited(client, staff):
    org = OrganizationFactory.create()
    member = UserFactory.create()
    data = org_form(
        org,
        retention_days="90",
        **{
            "memberships-TOTAL_FORMS": "1",
            "memberships-0-user": str(member.pk),
            "memberships-0-role": "supervisor",
            "memberships-0-organization": str(org.pk),
        },
    )
    response = client.post(reverse("admin:calls_organization_change", args=[org.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    changed = AuditEvent.objects.get(action=AuditEvent.Action.CHANGED, object_type="organization")
    assert changed.details == {"fields": ["retention_days"]}
    created = AuditEvent.objects.get(action=AuditEvent.Action.CREATED, object_type="membership")
    assert created.organization == org and "supervisor" in created.summary


def test_changelist_shows_status_label_last_clean_poll_and_live_calls(client, staff):
    org = OrganizationFactory.create(name="Healthy")
    calls_ingest(org, [call_payload("A"), call_payload("B")], timezone.now())
    OrganizationFactory.create(name="Broken", status=OrganizationStatus.AUTH_FAILED)
    html = client.get(CHANGELIST).content.decode()
    assert '<span class="org-status org-status-ok">ok</span>' in html
    assert '<span class="org-status org-status-auth_failed">auth_failed</span>' in html
    assert " s ago" in html and "never" in html
    assert '<td class="field-live_calls">2</td>' in html
    filtered = client.get(CHANGELIST, {"status": "auth_failed"}).content.decode()
    assert "Broken" in filtered and "Healthy" not in filtered
    # As the sidebar's links of a field's filter spell it.
    filtered = client.get(CHANGELIST, {"status__exact": "ok"}).content.decode()
    assert "Healthy" in filtered and "Broken" not in filtered


def test_time_ago():
    now = T0
    assert time_ago(None, now=now) == "never"
    assert time_ago(now - timedelta(seconds=12), now=now) == "12 s ago"
    assert time_ago(now - timedelta(minutes=5, seconds=3), now=now) == "5 min ago"
    assert time_ago(now - timedelta(hours=3), now=now) == "3 h ago"
    assert time_ago(now - timedelta(days=2), now=now) == "2 d ago"


def test_change_page_shows_only_the_last_20_poll_runs_read_only(client, staff):
    org = OrganizationFactory.create()
    for n in range(25):
        at = T0 + timedelta(seconds=n)
        PollRun.objects.create(
            organization=org,
            started_at=at,
            finished_at=at,
            outcome=PollOutcome.CLEAN,
            error=f"run-{n:02d}",
        )
    html = client.get(reverse("admin:calls_organization_change", args=[org.pk])).content.decode()
    shown = [n for n in range(25) if f"run-{n:02d}" in html]
    assert shown == list(range(5, 25))
    assert 'name="poll_runs' not in html


def test_test_connection_reports_live_calls_without_storing_anything(client, staff, feed):
    org = OrganizationFactory.create(invoca_id="5001", api_base_url=feed.url)
    ApiTokenFactory.create(organization=org, secret="good-token-5001")
    response = act(client, "test_connection", org)
    assert messages_of(response) == [f"{org.name}: ok: 3 live calls"]
    assert not Call.objects.exists() and not PollRun.objects.exists()
    org.refresh_from_db()
    assert org.poll_state.status == OrganizationStatus.OK and org.poll_state.last_success_at is None
    event = AuditEvent.objects.get(action=AuditEvent.Action.TESTED)
    assert event.actor == staff and event.summary == "ok: 3 live calls"


def test_test_connection_gives_the_exact_reason(client, staff, feed):
    refused = OrganizationFactory.create(name="Refused", invoca_id="5001", api_base_url=feed.url)
    ApiTokenFactory.create(organization=refused, secret="wrong-token")
    tokenless = OrganizationFactory.create(name="Tokenless", api_base_url=feed.url)
    response = act(client, "test_connection", refused, tokenless)
    assert sorted(messages_of(response)) == [
        "Refused: token refused (401)",
        f"Tokenless: no active API token for {url_origin(feed.url)}",
    ]
    refused.refresh_from_db()
    assert refused.poll_state.status == OrganizationStatus.OK  # a check never changes poll state


def test_poll_now_ingests_and_records_a_manual_run(client, staff, feed):
    org = OrganizationFactory.create(invoca_id="5001", api_base_url=feed.url)
    ApiTokenFactory.create(organization=org, secret="good-token-5001")
    response = act(client, "poll_now", org)
    assert messages_of(response) == [f"{org.name}: poll now: clean, 3 live call(s)"]
    run = PollRun.objects.get(organization=org)
    assert run.kind == PollKind.MANUAL and run.outcome == PollOutcome.CLEAN
    assert set(Call.objects.values_list("transaction_id", flat=True)) == {"S1", "S2", "S3"}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.POLLED, organization=org).exists()


def test_enable_and_disable_actions(client, staff):
    org = OrganizationFactory.create()
    act(client, "disable", org)
    org.refresh_from_db()
    assert not org.enabled and org.poll_state.status == OrganizationStatus.DISABLED
    act(client, "enable", org)
    org.refresh_from_db()
    assert org.enabled and org.poll_state.status == OrganizationStatus.OK
    assert AuditEvent.objects.filter(organization=org).count() == 2


def test_unchecking_enabled_on_the_form_disables_polling(client, staff):
    org = OrganizationFactory.create()
    data = org_form(org)
    del data["enabled"]
    response = client.post(reverse("admin:calls_organization_change", args=[org.pk]), data)
    assert response.status_code == 302
    org.refresh_from_db()
    assert not org.enabled and org.poll_state.status == OrganizationStatus.DISABLED


def test_reactivating_an_older_token_makes_it_the_one_and_resumes_polling(client, staff):
    org = OrganizationFactory.create(status=OrganizationStatus.AUTH_FAILED, consecutive_failures=2)
    older = ApiTokenFactory.create(organization=org, active=False)
    newer = ApiTokenFactory.create(organization=org)
    response = client.post(
        reverse("admin:calls_apitoken_change", args=[older.pk]), {"label": "back", "active": "on"}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.active and not newer.active
    assert api_token_active(organization=org) == older
    org.refresh_from_db()
    assert (
        org.poll_state.status == OrganizationStatus.OK and org.poll_state.consecutive_failures == 0
    )
