from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from calls.invoca import current_calls_parse
from calls.models import Call, CallSnapshot, PollRun
from calls.services import poll_result_ingest
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db


def seed(org, transaction_ids, when):
    result = current_calls_parse({"current_calls": [call_payload(t) for t in transaction_ids]})
    poll_result_ingest(organization=org, result=result, started_at=when, finished_at=when)


@pytest.fixture
def data():
    now = timezone.now()
    org = OrganizationFactory.create(retention_days=30, name="Keep30")
    seed(org, ["OLD", "LIVE"], now - timedelta(days=40))
    Call.objects.filter(transaction_id="OLD").update(ended_at=now - timedelta(days=40))
    seed(org, ["RECENT"], now - timedelta(days=2))
    Call.objects.filter(transaction_id="RECENT").update(ended_at=now - timedelta(days=2))
    return org


def purge(*args):
    out = StringIO()
    call_command("purge_calls", *args, stdout=out)
    return out.getvalue()


def test_dry_run_counts_and_deletes_nothing(data):
    output = purge("--dry-run")
    assert "would delete 1 calls, 1 snapshots, 1 poll runs" in output
    assert Call.objects.count() == 3 and PollRun.objects.count() == 2


def test_purge_deletes_old_ended_calls_only(data):
    output = purge()
    assert f"org {data.pk} Keep30 (retention 30 days): deleted 1 calls" in output
    assert output.strip().splitlines()[-1] == "total: deleted 1 calls, 1 snapshots, 1 poll runs"
    assert set(Call.objects.values_list("transaction_id", flat=True)) == {"LIVE", "RECENT"}
    assert not CallSnapshot.objects.filter(call__transaction_id="OLD").exists()
    assert PollRun.objects.count() == 1
    assert "deleted 0 calls" in purge()
