"""The purge: calls past confirmation are ended first and retention then applies to them like
to any ended call; audit events go after AUDIT_RETENTION_DAYS."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from calls.invoca.decoding import current_calls_read
from calls.models import AuditEvent, Call, CallEndReason, CallSnapshot, Organization
from calls.selectors.polling import live_calls_stored
from calls.services import PurgeCounts, calls_purge, poll_result_ingest
from calls.services.audit import audit_record
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db


def ingest(org: Organization, transaction_ids: list[str], when: datetime) -> None:
    body = json.dumps({"current_calls": [call_payload(t) for t in transaction_ids]}).encode()
    org.refresh_from_db()
    result = current_calls_read(body, known=live_calls_stored(organization=org))
    poll_result_ingest(organization=org, result=result, started_at=when, finished_at=when)


@pytest.fixture
def stuck():
    """An organization whose feed stopped 40 days ago with two calls live (retention 30):
    STUCK was in its last answer, GONE-QUIET was last seen in the one before."""
    now = timezone.now()
    org = OrganizationFactory.create(retention_days=30, clean_misses_to_end=5)
    ingest(org, ["STUCK", "GONE-QUIET"], now - timedelta(days=41))
    ingest(org, ["STUCK"], now - timedelta(days=40))
    return org, now


def test_dry_run_reports_the_ending_and_what_retention_then_deletes(stuck):
    org, now = stuck
    report = calls_purge(now=now, dry_run=True)
    assert report.organizations[org] == PurgeCounts(calls=2, snapshots=2, poll_runs=2, ended=2)
    assert Call.objects.filter(ended_at__isnull=True).count() == 2
    assert CallSnapshot.objects.count() == 2


def test_calls_ended_unconfirmed_are_then_purged_like_any_ended_call(stuck):
    org, now = stuck
    report = calls_purge(now=now)
    assert report.organizations[org] == PurgeCounts(calls=2, snapshots=2, poll_runs=2, ended=2)
    assert not Call.objects.exists() and not CallSnapshot.objects.exists()


def test_calls_ended_unconfirmed_within_retention_are_kept(stuck):
    org, now = stuck
    Organization.objects.filter(pk=org.pk).update(retention_days=90)
    report = calls_purge(now=now)
    assert report.total == PurgeCounts(ended=2)
    assert set(Call.objects.values_list("transaction_id", "end_reason")) == {
        ("STUCK", CallEndReason.UNCONFIRMED),
        ("GONE-QUIET", CallEndReason.UNCONFIRMED),
    }


def test_audit_events_past_their_retention_are_purged(settings):
    settings.AUDIT_RETENTION_DAYS = 30
    now = timezone.now()
    old = audit_record(actor=None, action=AuditEvent.Action.POLLED, summary="old")
    audit_record(actor=None, action=AuditEvent.Action.POLLED, summary="recent")
    AuditEvent.objects.filter(pk=old.pk).update(created_at=F("created_at") - timedelta(days=31))

    assert calls_purge(now=now, dry_run=True).audit_events == 1
    assert AuditEvent.objects.count() == 2
    assert calls_purge(now=now).audit_events == 1
    assert list(AuditEvent.objects.values_list("summary", flat=True)) == ["recent"]
