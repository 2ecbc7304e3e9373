"""The export service every door uses: it decides what may be exported, and owns the audit
event (recorded at the start, completed with the row count, or marked incomplete)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from calls.models import AuditEvent, Call, Organization, Role
from calls.selectors.filters import ExportFilters
from calls.selectors.viewer import Viewer, viewer_get
from calls.services.exports import (
    ExportNotAllowed,
    ExportOrganizationUnknown,
    calls_export,
)
from tests.export.data import T0, calls_ingest
from tests.factories import MembershipFactory, OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def orgs() -> tuple[Organization, Organization]:
    a = OrganizationFactory.create(name="Alpha")
    b = OrganizationFactory.create(name="Beta")
    calls_ingest(a, [call_payload("A-1"), call_payload("A-2")], T0)
    calls_ingest(b, [call_payload("B-1")], T0)
    return a, b


def viewer_with(organization: Organization, role: str) -> Viewer:
    return viewer_get(user=MembershipFactory.create(organization=organization, role=role).user)


def supervisor_web_export(organization: Organization):
    """An unfiltered export from the web by a supervisor of `organization`."""
    return calls_export(
        door="web",
        filters=ExportFilters(),
        now=timezone.now(),
        viewer=viewer_with(organization, Role.SUPERVISOR),
    )


def test_a_supervisor_exports_their_organizations_and_the_audit_counts_the_rows(orgs) -> None:
    a, _ = orgs
    export = supervisor_web_export(a)
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORTED)
    assert event.details["rows"] is None and event.details["complete"] is False  # at the start
    text = "".join(export.lines)
    assert "A-1" in text and "A-2" in text and "B-1" not in text
    assert export.rows_written == 2
    assert export.filename.startswith("cipdash-calls-")
    event.refresh_from_db()
    assert event.details["rows"] == 2 and event.details["complete"] is True
    assert event.details["door"] == "web"


@pytest.mark.parametrize("role", [Role.AGENT, Role.RESTRICTED])
def test_other_roles_are_refused_before_anything_is_recorded(orgs, role) -> None:
    a, _ = orgs
    with pytest.raises(ExportNotAllowed):
        calls_export(
            door="web", filters=ExportFilters(), now=timezone.now(), viewer=viewer_with(a, role)
        )
    assert not AuditEvent.objects.exists()


def test_an_organization_the_viewer_cannot_see_is_unknown(orgs) -> None:
    a, b = orgs
    viewer = viewer_with(a, Role.SUPERVISOR)
    for organization_id in (b.pk, 999_999):
        with pytest.raises(ExportOrganizationUnknown):
            calls_export(
                door="web",
                filters=ExportFilters(organization_id=organization_id),
                now=timezone.now(),
                viewer=viewer,
            )
    assert not AuditEvent.objects.exists()


def test_the_operator_exports_every_organization_but_not_an_unknown_one(orgs) -> None:
    export = calls_export(
        door="cli", filters=ExportFilters(), now=timezone.now(), viewer=None, actor_name="cli:ops"
    )
    assert "".join(export.lines).count("\r\n") == 4  # the header and three calls
    with pytest.raises(ExportOrganizationUnknown, match="no organization with id 999999"):
        calls_export(
            door="cli",
            filters=ExportFilters(organization_id=999_999),
            now=timezone.now(),
            viewer=None,
        )


def test_a_selection_is_exported_as_given_and_described_as_asked(orgs) -> None:
    selected = Call.objects.filter(transaction_id="B-1")
    export = calls_export(
        door="admin",
        filters=ExportFilters(),
        now=timezone.now(),
        viewer=None,
        selected=selected,
        described={"changelist": "q=B"},
    )
    text = "".join(export.lines)
    assert "B-1" in text and "A-1" not in text
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORTED)
    assert event.details["filters"] == {"changelist": "q=B"}


def test_an_export_stopped_early_is_recorded_incomplete(orgs) -> None:
    a, _ = orgs
    export = supervisor_web_export(a)
    next(export.lines)  # the header only
    export.lines.close()
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORTED)
    assert event.details["complete"] is False and event.details["rows"] == 0
