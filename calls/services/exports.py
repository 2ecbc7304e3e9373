"""The CSV export, whichever door it is asked at (the web button, the admin action,
`export_calls`): which calls it may read, its audit event, and its lines.

An export is recorded when it starts, so an aborted download is still on record, and completed
with its row count when its last line has been produced (or marked incomplete when the reader
stops early); it is counted in the export tallies of /metrics then, rows included."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from calls.export.rows import export_filename, export_lines
from calls.models import Call, Organization
from calls.selectors.export import calls_for_export, export_source
from calls.selectors.filters import ExportFilters
from calls.selectors.viewer import Viewer
from calls.services.audit import Actor, audit_export_finish, audit_export_start
from calls.services.tallies import export_tally_add


class ExportOrganizationUnknown(LookupError):
    """The filters name an organization the exporter cannot see (or that does not exist)."""


class ExportNotAllowed(PermissionError):
    """The exporter's role may not export the calls asked for."""


@dataclass(slots=True)
class CallsExport:
    """An export under way: its CSV text in pieces, and the name to save it under."""

    filename: str
    lines: Generator[str, None, None] = field(repr=False)
    # How many rows the lines held, once they have all been produced.
    rows_written: int = 0


def calls_export(
    *,
    door: str,
    filters: ExportFilters,
    now: datetime,
    viewer: Viewer | None,
    actor: Actor = None,
    actor_name: str = "",
    selected: QuerySet[Call] | None = None,
    described: dict[str, Any] | None = None,
    bom: bool = False,
) -> CallsExport:
    """Audit an export and return its lines: of `selected` (the admin's selection) or else
    of every call the exporter may export (a `viewer`: their supervised organizations; none:
    the operator, every call), narrowed by `filters`. `described` stands for the filters in
    the audit event.

    Raises ExportOrganizationUnknown or ExportNotAllowed before anything is recorded."""
    organization = _organization_named(viewer=viewer, filters=filters)
    calls = selected if selected is not None else _calls_exportable(viewer=viewer, filters=filters)
    event = audit_export_start(
        actor=actor,
        actor_name=actor_name,
        door=door,
        filters=filters.describe() if described is None else described,
        organization=organization,
    )

    def finished(rows: int, complete: bool) -> None:
        export.rows_written = rows
        audit_export_finish(event=event, rows=rows, complete=complete)
        export_tally_add(door=door, rows=rows)

    export = CallsExport(
        filename=export_filename(now=now, organization_id=filters.organization_id),
        lines=export_lines(
            source=export_source(calls=calls, filters=filters),
            now=now,
            bom=bom,
            on_finish=finished,
        ),
    )
    return export


def _organization_named(*, viewer: Viewer | None, filters: ExportFilters) -> Organization | None:
    if filters.organization_id is None:
        return None
    if viewer is not None and viewer.organization(filters.organization_id) is None:
        raise ExportOrganizationUnknown("no such organization")
    organization = Organization.objects.filter(pk=filters.organization_id).first()
    if organization is None:
        raise ExportOrganizationUnknown(f"no organization with id {filters.organization_id}")
    return organization


def _calls_exportable(*, viewer: Viewer | None, filters: ExportFilters) -> QuerySet[Call]:
    """Staff and supervisors export their organizations' calls; the operator every call."""
    if viewer is None:
        return calls_for_export(organization_ids=None, filters=filters)
    exportable = [org.id for org in viewer.organizations if org.sees_history]
    if filters.organization_id is not None:
        exportable = [id_ for id_ in exportable if id_ == filters.organization_id]
    if not exportable:
        raise ExportNotAllowed("exporting needs the supervisor role in the organization")
    return calls_for_export(organization_ids=exportable, filters=filters)
