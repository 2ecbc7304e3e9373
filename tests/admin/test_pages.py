"""Every admin page loads for staff, refuses everyone else, and never shows a token secret."""

from __future__ import annotations

import sys
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core.signals import got_request_exception
from django.urls import reverse
from django.views.debug import ExceptionReporter

from calls.models import ApiToken, AuditEvent, Call, CallSnapshot, PollRun
from tests.export.data import T0, calls_ingest
from tests.factories import (
    ApiTokenFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    call_payload,
)

pytestmark = pytest.mark.django_db


def _failing_save(self, *args, **kwargs):
    # Kept away from any secret literal: an error report quotes the source around it.
    raise RuntimeError("database went away")


SECRET = "sEcReT-0123456789-abcdefghij-WXYZ"
OLD_SECRET = "0ld-sEcReT-9876543210-zyxw-QRST"


@pytest.fixture
def world():
    org = OrganizationFactory.create(name="Acme")
    old = ApiTokenFactory.create(organization=org, secret=OLD_SECRET, label="old", active=False)
    token = ApiTokenFactory.create(organization=org, secret=SECRET, label="main")
    MembershipFactory.create(organization=org)
    calls_ingest(org, [call_payload("TX1"), call_payload("TX2")], T0)
    calls_ingest(org, [call_payload("TX1")], T0 + timedelta(seconds=5))
    return {"org": org, "token": token, "old": old}


def admin_urls(world) -> list[str]:
    org, token = world["org"], world["token"]
    call = Call.objects.first()
    snapshot = CallSnapshot.objects.first()
    run = PollRun.objects.first()
    assert call is not None and snapshot is not None and run is not None
    audit = AuditEvent.objects.create(action=AuditEvent.Action.CHANGED, organization=org)
    urls = [reverse("admin:index"), reverse("admin:app_list", args=["calls"])]
    for model, obj in (
        ("organization", org),
        ("apitoken", token),
        ("call", call),
        ("callsnapshot", snapshot),
        ("pollrun", run),
        ("auditevent", audit),
    ):
        urls += [
            reverse(f"admin:calls_{model}_changelist"),
            reverse(f"admin:calls_{model}_change", args=[obj.pk]),
            reverse(f"admin:calls_{model}_history", args=[obj.pk]),
        ]
    urls += [
        reverse("admin:calls_organization_add"),
        reverse("admin:calls_apitoken_add"),
        reverse("admin:calls_organization_delete", args=[org.pk]),
        reverse("admin:calls_apitoken_delete", args=[token.pk]),
        reverse("admin:calls_apitoken_changelist") + "?q=main",
        reverse("admin:calls_call_changelist") + "?q=%28310%29+555-0147&status=live",
        reverse("admin:calls_callsnapshot_changelist") + "?q=TX1&status=ended",
        reverse("admin:calls_pollrun_changelist") + "?outcome=clean",
        reverse("admin:calls_organization_changelist") + "?q=Acme&status=ok",
    ]
    return urls


def secrets_of(world) -> list[str]:
    found = []
    for token in (world["token"], world["old"]):
        token.refresh_from_db()
        found.append(token.secret_encrypted)
    return [SECRET, OLD_SECRET, SECRET[:-4], *found]


def test_every_admin_page_loads_for_staff_and_never_shows_a_secret(client, world):
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    secrets = secrets_of(world)
    for url in admin_urls(world):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for secret in secrets:
            assert secret not in html, url
    token_page = client.get(reverse("admin:calls_apitoken_change", args=[world["token"].pk]))
    assert "…WXYZ" in token_page.content.decode()


def test_staff_pages_refuse_non_staff_and_anonymous(client, world):
    urls = admin_urls(world)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    client.force_login(UserFactory.create(is_staff=False))
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_token_inline_is_a_password_input_never_prefilled(client, world):
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    html = client.get(
        reverse("admin:calls_organization_change", args=[world["org"].pk])
    ).content.decode()
    # Existing tokens: disabled and empty; the new-token row: an empty password input.
    assert 'type="password" name="tokens-0-secret"' in html
    assert 'type="password" name="tokens-2-secret"' in html
    assert "…WXYZ" in html and "…QRST" in html
    assert 'name="tokens-2-secret" autocomplete="new-password"' in html
    assert 'value="' + SECRET not in html


def org_form(org, *, tokens=(), new_token=None, **fields):
    data = {
        "name": org.name,
        "organization_type": org.organization_type,
        "invoca_id": org.invoca_id,
        "enabled": "on",
        "api_base_url": org.api_base_url,
        "poll_interval_seconds": "5",
        "clean_misses_to_end": "2",
        "time_zone": "UTC",
        "retention_days": "30",
        "pinned_fields": "[]",
        "initial-pinned_fields": "[]",  # as the browser sends it (callable default)
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "highlight_rules-TOTAL_FORMS": "0",
        "highlight_rules-INITIAL_FORMS": "0",
        "tokens-TOTAL_FORMS": str(len(tokens) + (1 if new_token else 0)),
        "tokens-INITIAL_FORMS": str(len(tokens)),
    }
    for index, token in enumerate(tokens):
        data[f"tokens-{index}-id"] = str(token.pk)
        data[f"tokens-{index}-organization"] = str(org.pk)
        data[f"tokens-{index}-label"] = token.label
        if token.active:
            data[f"tokens-{index}-active"] = "on"
    if new_token:
        index = len(tokens)
        data[f"tokens-{index}-organization"] = str(org.pk)
        data[f"tokens-{index}-label"] = "rotated"
        data[f"tokens-{index}-secret"] = new_token
        data[f"tokens-{index}-active"] = "on"
    data.update(fields)
    return data


def test_history_and_audit_never_hold_the_secret(client, world):
    org = world["org"]
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    new_secret = "nEw-SeCrEt-555-5555-abcd-LMNO"
    response = client.post(
        reverse("admin:calls_organization_change", args=[org.pk]),
        org_form(org, tokens=[world["token"], world["old"]], new_token=new_secret),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    cipher = ApiToken.objects.get(last4="LMNO").secret_encrypted
    for text in [
        *LogEntry.objects.values_list("change_message", flat=True),
        *LogEntry.objects.values_list("object_repr", flat=True),
        *(str(details) for details in AuditEvent.objects.values_list("details", flat=True)),
        *AuditEvent.objects.values_list("summary", flat=True),
        client.get(reverse("admin:calls_organization_history", args=[org.pk])).content.decode(),
        client.get(reverse("admin:calls_auditevent_changelist")).content.decode(),
        client.get(reverse("admin:calls_organization_change", args=[org.pk])).content.decode(),
    ]:
        assert new_secret not in text and new_secret[:-4] not in text and cipher not in text


@pytest.mark.parametrize("door", ["inline", "standalone"])
def test_a_crash_while_saving_a_token_keeps_the_secret_out_of_the_error_report(
    client, world, monkeypatch, door
):
    """The report Django sends or logs for a 500 (frames, locals, POST) hides the secret."""
    org = world["org"]
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    client.raise_request_exception = False
    new_secret = "cRaSh-SeCrEt-0000-1111-EFGH"
    reports: list[str] = []

    def report(sender, request, **kwargs):
        reporter = ExceptionReporter(request, *sys.exc_info())
        reports.extend((reporter.get_traceback_html(), reporter.get_traceback_text()))

    monkeypatch.setattr(ApiToken, "save", _failing_save)
    got_request_exception.connect(report)
    try:
        if door == "inline":
            url = reverse("admin:calls_organization_change", args=[org.pk])
            data = org_form(org, tokens=[world["token"], world["old"]], new_token=new_secret)
        else:
            url = reverse("admin:calls_apitoken_add")
            data = {"organization": org.pk, "label": "x", "secret": new_secret}
        response = client.post(url, data)
    finally:
        got_request_exception.disconnect(report)
    assert response.status_code == 500
    assert new_secret not in response.content.decode()
    assert len(reports) == 2
    for text in reports:
        assert "database went away" in text  # frames, their variables and the POST are there
        assert "api_token_add" in text
        assert new_secret not in text and new_secret[:-4] not in text


@pytest.mark.parametrize(
    "pinned", ["5", '"utm_source"', '{"utm_source": 1}', '["utm_source", 3]', '["a", "a"]', '[" "]']
)
def test_pinned_fields_must_be_a_list_of_names(client, world, pinned):
    org = world["org"]
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:calls_organization_change", args=[org.pk]),
        org_form(org, tokens=[world["token"], world["old"]], pinned_fields=pinned),
    )
    assert response.status_code == 200
    assert "Pinned fields are a list of custom data field names" in response.content.decode()
    org.refresh_from_db()
    assert org.pinned_fields == []


def test_pinned_fields_are_saved_as_given(client, world):
    org = world["org"]
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:calls_organization_change", args=[org.pk]),
        org_form(org, tokens=[world["token"], world["old"]], pinned_fields='["utm_source", "x"]'),
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.pinned_fields == ["utm_source", "x"]
