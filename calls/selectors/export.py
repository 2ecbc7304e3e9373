"""Reads for the CSV export: who may export which organizations, the list's filters, and the
two streamed passes over the rows (their JSON keys first, for the header; then the rows).

The web button, the admin action and the `export_calls` command all read through here, so
the three doors export exactly the same rows for the same filters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from calls.models import Call, CallSnapshot, Organization, Role
from calls.phones import phone_e164

STATUSES = ("live", "ended", "all")
# Rows fetched per database round trip while streaming: memory stays flat at any size.
CHUNK_SIZE = 2000

JsonObject = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ExportFilters:
    organization_id: int | None = None
    query: str = ""
    status: str = "all"
    since: datetime | None = None
    until: datetime | None = None
    snapshots: bool = False

    def describe(self) -> dict[str, Any]:
        """The filters as plain JSON, for the audit trail."""
        return {
            "org": self.organization_id,
            "q": self.query,
            "status": self.status,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "snapshots": self.snapshots,
        }


def _moment(text: str, name: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        moment = parse_datetime(text)  # a date alone is its midnight
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(f"{name} must be an ISO 8601 date or time, e.g. 2026-11-25T09:00Z")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def export_filters_parse(
    *,
    organization: str | int | None = None,
    query: str = "",
    status: str = "",
    since: str = "",
    until: str = "",
    snapshots: bool = False,
    default_status: str = "all",
) -> ExportFilters:
    """The filters from user text (query string or command line); ValueError says what is wrong.

    Times without a zone are UTC."""
    organization_id: int | None = None
    if organization not in (None, ""):
        try:
            organization_id = int(organization)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError("org must be an organization id (a number)") from None
    status = (status or default_status).strip().lower()
    if status not in STATUSES:
        raise ValueError("status must be live, ended or all")
    since_at, until_at = _moment(since, "since"), _moment(until, "until")
    if since_at and until_at and since_at >= until_at:
        raise ValueError("since must be before until")
    return ExportFilters(
        organization_id=organization_id,
        query=query.strip(),
        status=status,
        since=since_at,
        until=until_at,
        snapshots=snapshots,
    )


def organizations_exportable(*, user: User | AnonymousUser) -> QuerySet[Organization]:
    """Staff export everything; otherwise only the organizations the user supervises."""
    if not user.is_authenticated or not user.is_active:
        return Organization.objects.none()
    if user.is_staff:
        return Organization.objects.all()
    return Organization.objects.filter(
        memberships__user=user, memberships__role=Role.SUPERVISOR
    ).distinct()


def calls_search(calls: QuerySet[Call], *, query: str) -> QuerySet[Call]:
    """The live list's search box: a phone number in any format, an exact transaction id, or
    text contained in a custom data value."""
    query = query.strip()
    if not query:
        return calls
    condition = Q(transaction_id=query) | Q(custom_data__icontains=query)
    e164 = phone_e164(query)
    if e164:
        condition |= Q(calling_phone_number=e164)
    return calls.filter(condition)


def calls_filter(calls: QuerySet[Call], *, filters: ExportFilters) -> QuerySet[Call]:
    if filters.organization_id is not None:
        calls = calls.filter(organization_id=filters.organization_id)
    if filters.status == "live":
        calls = calls.filter(ended_at__isnull=True)
    elif filters.status == "ended":
        calls = calls.filter(ended_at__isnull=False)
    # A call belongs to a window when it was live at some moment inside it.
    if filters.since is not None:
        calls = calls.filter(last_seen_at__gte=filters.since)
    if filters.until is not None:
        calls = calls.filter(first_seen_at__lt=filters.until)
    return calls_search(calls, query=filters.query)


def calls_for_export(
    *, organizations: QuerySet[Organization], filters: ExportFilters
) -> QuerySet[Call]:
    return calls_filter(Call.objects.filter(organization__in=organizations), filters=filters)


@dataclass(frozen=True)
class ExportSource:
    """What one export reads: calls (one row each, their latest state) or their snapshots."""

    calls: QuerySet[Call]
    snapshots: QuerySet[CallSnapshot] | None = None

    def json_fields(self) -> Iterator[tuple[JsonObject, JsonObject, JsonObject]]:
        """(general, custom_data, demographics) of every row, for the header's columns."""
        rows = self.snapshots if self.snapshots is not None else self.calls
        yield from (
            rows.order_by()
            .values_list("general", "custom_data", "demographics")
            .iterator(chunk_size=CHUNK_SIZE)
        )

    def records(self) -> Iterator[tuple[Call, CallSnapshot | None]]:
        if self.snapshots is None:
            calls = self.calls.select_related("organization").order_by("first_seen_at", "pk")
            for call in calls.iterator(chunk_size=CHUNK_SIZE):
                yield call, None
            return
        snapshots = (
            self.snapshots.select_related("call__organization")
            .defer("payload")
            .order_by("call__first_seen_at", "call_id", "observed_at", "pk")
        )
        for snapshot in snapshots.iterator(chunk_size=CHUNK_SIZE):
            yield snapshot.call, snapshot


def export_source(*, calls: QuerySet[Call], filters: ExportFilters) -> ExportSource:
    if not filters.snapshots:
        return ExportSource(calls=calls)
    snapshots = CallSnapshot.objects.filter(call__in=calls.values("pk"))
    if filters.since is not None:
        snapshots = snapshots.filter(observed_at__gte=filters.since)
    if filters.until is not None:
        snapshots = snapshots.filter(observed_at__lt=filters.until)
    return ExportSource(calls=calls, snapshots=snapshots)
