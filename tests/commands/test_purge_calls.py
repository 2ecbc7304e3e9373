from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from calls.invoca import current_calls_parse
from calls.models import AuditEvent, Call, CallSnapshot, PollRun
from calls.services import poll_result_ingest
from calls.services.audit import audit_record
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db


def seed(org, transaction_ids, when):
    result = current_calls_parse({"current_calls": [call_payload(t) for t in transaction_ids]})
    poll_result_ingest(organization=org, result=result, started_at=when, finished_at=when)


@pytest.fixture
def data():
    now = timezone.now()
    org = OrganizationFactory.create(retention_days=30, name="Keep30", clean_misses_to_end=5)
    # STUCK was left live when the feed last answered without it, 40 days ago.
    seed(org, ["OLD", "STUCK"], now - timedelta(days=40))
    Call.objects.filter(transaction_id="OLD").update(ended_at=now - timedelta(days=40))
    seed(org, ["RECENT"], now - timedelta(days=2))
    Call.objects.filter(transaction_id="RECENT").update(ended_at=now - timedelta(days=2))
    seed(org, ["LIVE"], now)
    return org


def purge(*args):
    out = StringIO()
    call_command("purge_calls", *args, stdout=out)
    return out.getvalue()


def test_dry_run_counts_and_deletes_nothing(data):
    output = purge("--dry-run")
    assert (
        f"org {data.pk} Keep30 (retention 30 days): would end 1 unconfirmed live calls; "
        "would delete 2 calls, 2 snapshots, 1 poll runs"
    ) in output
    assert "audit events (retention 365 days): would delete 0" in output
    assert Call.objects.count() == 4 and PollRun.objects.count() == 3
    assert Call.objects.get(transaction_id="STUCK").ended_at is None


def test_purge_ends_unconfirmed_calls_then_deletes_old_ended_calls_only(data):
    output = purge()
    assert (
        f"org {data.pk} Keep30 (retention 30 days): ended 1 unconfirmed live calls; deleted 2 calls"
    ) in output
    assert output.strip().splitlines()[-1] == (
        "total: ended 1 unconfirmed live calls; deleted 2 calls, 2 snapshots, 1 poll runs"
    )
    assert set(Call.objects.values_list("transaction_id", flat=True)) == {"LIVE", "RECENT"}
    assert Call.objects.get(transaction_id="LIVE").ended_at is None
    assert not CallSnapshot.objects.filter(call__transaction_id__in=["OLD", "STUCK"]).exists()
    assert PollRun.objects.count() == 2
    assert "ended 0 unconfirmed live calls; deleted 0 calls" in purge()


def test_purge_deletes_audit_events_past_their_retention(data, settings):
    settings.AUDIT_RETENTION_DAYS = 10
    old = audit_record(actor=None, action=AuditEvent.Action.POLLED, summary="old")
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=11))
    audit_record(actor=None, action=AuditEvent.Action.POLLED, summary="new")
    assert "audit events (retention 10 days): would delete 1" in purge("--dry-run")
    assert "audit events (retention 10 days): deleted 1" in purge()
    assert list(AuditEvent.objects.values_list("summary", flat=True)) == ["new"]
