"""The export view: who may export, what the CSV download looks like, and its audit."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from calls.models import AuditEvent, Role
from tests.export.data import T0, calls_ingest, https_client
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory, call_payload

pytestmark = pytest.mark.django_db
URL = reverse("calls:export")
# Over HTTPS, as the export's browsers are (the PostgreSQL run redirects plain HTTP).
client = pytest.fixture(https_client)


@pytest.fixture
def orgs():
    a = OrganizationFactory.create(name="Alpha", clean_misses_to_end=1)
    b = OrganizationFactory.create(name="Beta")
    calls_ingest(a, [call_payload("A-LIVE"), call_payload("A-ENDS")], T0)
    calls_ingest(a, [call_payload("A-LIVE")], T0 + timedelta(seconds=5))  # A-ENDS ends
    calls_ingest(b, [call_payload("B-LIVE", calling_phone_number="+12125550000")], T0)
    return a, b


def member(org, role, client):
    user = UserFactory.create()
    MembershipFactory.create(user=user, organization=org, role=role)
    client.force_login(user)
    return user


def body(response) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return response.getvalue().decode("utf-8")


def transaction_ids(response) -> list[str]:
    return sorted(row["transaction_id"] for row in csv.DictReader(io.StringIO(body(response))))


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize("role", [Role.AGENT, Role.RESTRICTED])
def test_agents_and_restricted_members_cannot_export(client, orgs, role):
    a, _ = orgs
    member(a, role, client)
    assert client.get(URL).status_code == 403
    assert client.get(URL, {"org": a.pk}).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_foreign_organization_is_404(client, orgs):
    a, b = orgs
    member(a, Role.SUPERVISOR, client)
    assert client.get(URL, {"org": b.pk}).status_code == 404
    assert client.get(URL, {"org": 999999}).status_code == 404


def test_supervisor_exports_only_supervised_organizations(client, orgs):
    a, b = orgs
    user = member(a, Role.SUPERVISOR, client)
    MembershipFactory.create(user=user, organization=b, role=Role.AGENT)
    assert transaction_ids(client.get(URL)) == ["A-LIVE"]  # default: what the live list shows
    assert transaction_ids(client.get(URL, {"status": "all"})) == ["A-ENDS", "A-LIVE"]
    assert client.get(URL, {"org": b.pk}).status_code == 403  # agent there


def test_staff_export_everything_with_filters(client, orgs):
    _, b = orgs
    client.force_login(UserFactory.create(is_staff=True))
    assert transaction_ids(client.get(URL, {"status": "all"})) == ["A-ENDS", "A-LIVE", "B-LIVE"]
    assert transaction_ids(client.get(URL, {"status": "ended"})) == ["A-ENDS"]
    assert transaction_ids(client.get(URL, {"org": b.pk})) == ["B-LIVE"]
    assert transaction_ids(client.get(URL, {"q": "212-555-0000"})) == ["B-LIVE"]
    assert transaction_ids(client.get(URL, {"q": "A-LIVE", "status": "all"})) == ["A-LIVE"]
    later = {"status": "all", "since": (T0 + timedelta(seconds=1)).isoformat()}
    assert transaction_ids(client.get(URL, later)) == ["A-LIVE"]
    earlier = {"status": "all", "until": T0.isoformat()}
    assert transaction_ids(client.get(URL, earlier)) == []


def test_streamed_attachment_with_dated_name_bom_and_no_caching(client, orgs):
    client.force_login(UserFactory.create(is_staff=True))
    response = client.get(URL, {"bom": "1"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="cipdash-calls-all-\d{8}-\d{6}\.csv"',
        response["Content-Disposition"],
    )
    assert response["Cache-Control"] == "no-store"
    assert body(response).startswith("\ufefforganization_id,organization,transaction_id,")


def test_snapshots_checkbox_gives_observed_at(client, orgs):
    a, _ = orgs
    client.force_login(UserFactory.create(is_staff=True))
    response = client.get(URL, {"org": a.pk, "status": "all", "snapshots": "1"})
    assert 'filename="cipdash-calls-org' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert {row["transaction_id"] for row in rows} == {"A-LIVE", "A-ENDS"}
    assert all(row["observed_at"] == "2026-11-25T12:00:00Z" for row in rows)


def test_bad_filters_are_400(client, orgs):
    client.force_login(UserFactory.create(is_staff=True))
    response = client.get(URL, {"status": "sometimes"})
    assert response.status_code == 400
    assert b"status must be" in response.content


@pytest.mark.parametrize(
    "edge", [{"since": "0001-01-01T00:00:00+01:00"}, {"until": "9999-12-31T23:59:59-01:00"}]
)
def test_times_off_the_calendar_are_400_not_a_broken_download(client, orgs, edge):
    client.force_login(UserFactory.create(is_staff=True))
    response = client.get(URL, edge)
    assert response.status_code == 400
    assert b"must lie between" in response.content


def test_a_nul_in_the_search_is_400_not_a_database_error(client, orgs):
    client.force_login(UserFactory.create(is_staff=True))
    response = client.get(URL, {"q": "A-\x00LIVE"})
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_times_near_the_ends_of_the_calendar_export(client, orgs):
    client.force_login(UserFactory.create(is_staff=True))
    response = client.get(URL, {"since": "0001-01-03", "until": "9999-12-29", "status": "all"})
    assert transaction_ids(response) == ["A-ENDS", "A-LIVE", "B-LIVE"]


def test_each_export_is_audited_with_who_filters_and_row_count(client, orgs):
    a, _ = orgs
    user = member(a, Role.SUPERVISOR, client)
    response = client.get(URL, {"org": a.pk, "status": "all", "q": ""})
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORTED)
    assert event.actor == user
    assert event.organization == a
    assert event.details["filters"]["status"] == "all"
    assert event.details["complete"] is False  # recorded at the start
    assert transaction_ids(response) == ["A-ENDS", "A-LIVE"]
    event.refresh_from_db()
    assert event.details["rows"] == 2
    assert event.details["complete"] is True
    assert event.details["door"] == "web"


def test_post_is_not_allowed(client, orgs):
    client.force_login(UserFactory.create(is_staff=True))
    assert client.post(URL).status_code == 405
