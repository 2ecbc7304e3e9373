"""The token secret and callers' personal data never leave the places they belong: not in
logs (plain or JSON), PollRun errors, reprs, admin pages, exports or request URLs."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests
from django.urls import reverse

from calls import services, tasks
from calls.invoca import AuthenticationFailed, CurrentCallsRequest
from calls.models import ApiToken, AuditEvent, OrganizationPollState, PollRun
from cipdash.logging import JsonFormatter
from tests.factories import UserFactory
from tests.faults.support import poll

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("401", {}),
    ("403", {}),
    ("429", {"retry_after": 1}),
    ("500", {}),
    ("503", {}),
    ("hang", {}),
    ("drip", {"interval": 0.05}),
    ("malformed", {}),
    ("html200", {}),
    ("wrong_shape", {}),
    ("one_bad_call", {}),
    ("partial", {}),
    ("hostile", {}),
]


def personal_values(calls: list[dict]) -> set[str]:
    """Caller numbers and demographics values long enough not to occur by chance."""
    found: set[str] = set()
    for call in calls:
        found.add(str(call.get("calling_phone_number") or ""))
        custom = call.get("custom_data") or {}
        for block in (call.get("demographics_data"), custom.get("demographics_data")):
            for value in (block or {}).values():
                found.add(str(value))
    return {value for value in found if len(value) >= 6}


@pytest.fixture
def sent_requests(monkeypatch):
    """Every HTTP request the product sends, as prepared for the wire."""
    sent: list[requests.PreparedRequest] = []
    send = requests.Session.send

    def record(self, request, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(request)
        return send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", record)
    return sent


def test_token_and_personal_data_never_logged_or_stored_in_errors(
    feed, make_org, caplog, sent_requests
):
    org = make_org(target_live=6)
    bystander = make_org()
    # Everything from here on (urllib3's request lines included); factory_boy's own debug
    # lines about building the fixtures above are not the product's.
    caplog.set_level(logging.DEBUG)
    pii = personal_values(feed.live_calls(org.invoca_id))
    assert len(pii) >= 6, "the sandbox's calls should carry numbers and demographics"

    assert poll(org).clean
    for mode, options in FAULTS:
        feed.set_fault(mode, invoca_id=org.invoca_id, count=1, **options)
        poll(org)
        if org.fresh().poll_state.status == "auth_failed":
            services.api_token_add(organization=org.organization, secret=org.token)
    tasks.organization_poll_task(organization_id=org.organization.pk)
    assert poll(bystander).clean
    pii |= personal_values(feed.live_calls(org.invoca_id))

    secrets = {org.token, bystander.token}
    formatter = JsonFormatter()
    texts = [record.getMessage() for record in caplog.records]
    texts += [formatter.format(record) for record in caplog.records]
    texts += [caplog.text]
    texts += list(PollRun.objects.values_list("error", flat=True))
    texts += list(OrganizationPollState.objects.values_list("last_error", flat=True))
    texts += [str(AuditEvent.objects.values_list("summary", "details"))]
    assert PollRun.objects.filter(organization=org.organization).count() == len(FAULTS) + 2
    for text in texts:
        for secret in secrets:
            assert secret not in text
        for value in pii:
            assert value not in text, f"personal data in: {text[:200]}"

    # On the wire the token travels only in the Authorization header, never in the URL.
    assert len(sent_requests) >= len(FAULTS)
    for request in sent_requests:
        assert request.headers["Authorization"] in secrets
        assert not any(secret in (request.url or "") for secret in secrets)


def test_one_structured_event_per_poll(feed, make_org, caplog):
    caplog.set_level(logging.INFO, logger="calls.poll")
    org = make_org()
    poll(org)
    feed.set_fault("503", invoca_id=org.invoca_id, count=1)
    poll(org)
    events = [record for record in caplog.records if getattr(record, "event", "") == "poll"]
    assert [event.outcome for event in events] == ["clean", "unavailable"]  # type: ignore[attr-defined]
    fields = json.loads(JsonFormatter().format(events[0]))
    assert fields["org_id"] == org.organization.pk
    live = len(feed.live_calls(org.invoca_id))
    assert fields["calls_seen"] == fields["calls_new"] == live > 0
    assert isinstance(fields["duration_ms"], int)
    assert {"time", "level", "logger", "message"} <= set(fields)
    assert fields["message"] == (
        f"poll org={org.organization.pk} kind=scheduled outcome=clean http=200 seen={live} "
        f"new={live} changed=0 ended=0 rejected=0 duration_ms={fields['duration_ms']}"
    )
    assert json.loads(JsonFormatter().format(events[1]))["http_status"] == 503


def test_reprs_and_errors_hide_the_token(make_org):
    org = make_org()
    token = ApiToken.objects.get(organization=org.organization)
    request = CurrentCallsRequest(
        base_url="https://invoca.net/api/2022-08-01",
        organization_type="Network",
        organization_id=org.invoca_id,
        token=org.token,
        token_origin="https://invoca.net:443",
    )
    for text in (repr(token), str(token), repr(request), str(request), repr(org.organization)):
        assert org.token not in text
    assert token.last4 == org.token[-4:]
    assert org.token not in str(AuthenticationFailed("token refused (401)"))


def test_admin_pages_and_exports_never_show_the_token(feed, make_org, client):
    org = make_org()
    poll(org)
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    token = ApiToken.objects.get(organization=org.organization)
    pages = [
        reverse("admin:calls_organization_changelist"),
        reverse("admin:calls_organization_change", args=[org.organization.pk]),
        reverse("admin:calls_apitoken_changelist"),
        reverse("admin:calls_apitoken_change", args=[token.pk]),
        reverse("admin:calls_pollrun_changelist"),
        reverse("admin:calls_call_changelist"),
        reverse("calls:export") + "?status=all",
        reverse("calls:live"),
        reverse("healthz"),
    ]
    for url in pages:
        response = client.get(url, secure=True)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert org.token.encode() not in body, url
        assert token.secret_encrypted.encode() not in body, url
