from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from calls.models import AuditEvent
from tests.export.data import T0, calls_ingest
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def orgs():
    a = OrganizationFactory.create(name="Alpha", clean_misses_to_end=1)
    b = OrganizationFactory.create(name="Beta")
    calls_ingest(a, [call_payload("A-LIVE"), call_payload("A-ENDS")], T0)
    changed = call_payload("A-LIVE", custom_data={"lead_type": {"value": "hot", "source": "Api"}})
    calls_ingest(a, [changed], T0 + timedelta(minutes=10))  # A-ENDS ends; A-LIVE changes
    calls_ingest(b, [call_payload("B-LIVE")], T0 + timedelta(minutes=20))
    return a, b


def export(*args: str) -> list[dict[str, str]]:
    out = io.StringIO()
    call_command("export_calls", *args, stdout=out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def ids(rows: list[dict[str, str]]) -> list[str]:
    return sorted(row["transaction_id"] for row in rows)


def test_default_exports_every_call_to_stdout(orgs):
    rows = export()
    assert ids(rows) == ["A-ENDS", "A-LIVE", "B-LIVE"]
    assert "observed_at" not in rows[0]


def test_org_flag(orgs):
    _, b = orgs
    assert ids(export("--org", str(b.pk))) == ["B-LIVE"]
    with pytest.raises(CommandError, match="no organization with id 999999"):
        export("--org", "999999")


def test_status_flag(orgs):
    assert ids(export("--status", "live")) == ["A-LIVE", "B-LIVE"]
    assert ids(export("--status", "ended")) == ["A-ENDS"]
    assert ids(export("--status", "all")) == ["A-ENDS", "A-LIVE", "B-LIVE"]
    with pytest.raises(CommandError):
        export("--status", "sometimes")


def test_since_and_until_flags(orgs):
    # A-ENDS was last seen at T0; A-LIVE from T0 on; B-LIVE from T0+20min.
    assert ids(export("--since", "2026-11-25T12:05:00Z")) == ["A-LIVE", "B-LIVE"]
    assert ids(export("--until", "2026-11-25T12:15:00")) == ["A-ENDS", "A-LIVE"]
    assert ids(export("--since", "2026-11-25T12:05Z", "--until", "2026-11-25T12:15Z")) == ["A-LIVE"]
    with pytest.raises(CommandError, match="since must be an ISO 8601"):
        export("--since", "last tuesday")


def test_snapshots_flag(orgs):
    a, _ = orgs
    rows = export("--snapshots", "--org", str(a.pk))
    versions = [(r["transaction_id"], r["observed_at"], r["custom.lead_type"]) for r in rows]
    assert sorted(versions) == [
        ("A-ENDS", "2026-11-25T12:00:00Z", ""),
        ("A-LIVE", "2026-11-25T12:00:00Z", ""),
        ("A-LIVE", "2026-11-25T12:10:00Z", "hot"),
    ]


def test_q_and_bom_flags(orgs):
    out = io.StringIO()
    call_command("export_calls", "--q", "B-LIVE", "--bom", stdout=out)
    text = out.getvalue()
    assert text.startswith("\ufefforganization_id,")
    assert ids(list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))) == ["B-LIVE"]


def test_output_flag_writes_a_file_and_is_audited(orgs, tmp_path):
    target = tmp_path / "calls.csv"
    err = io.StringIO()
    call_command("export_calls", "--output", str(target), "--status", "live", stderr=err)
    raw = target.read_bytes()
    assert b"\r\n" in raw and b"\r\r\n" not in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert ids(rows) == ["A-LIVE", "B-LIVE"]
    assert "exported 2 row(s)" in err.getvalue()
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORTED)
    assert event.actor is None and event.actor_name.startswith("cli")
    assert event.details["door"] == "cli"
    assert event.details["filters"]["status"] == "live"
    assert event.details["rows"] == 2 and event.details["complete"] is True


def test_unwritable_output_is_a_clear_error(orgs, tmp_path):
    with pytest.raises(CommandError, match="cannot write"):
        call_command("export_calls", "--output", str(tmp_path / "missing" / "calls.csv"))
