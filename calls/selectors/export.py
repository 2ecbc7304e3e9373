"""Reads for the CSV export: who may export which organizations, the list's filters, and the
two streamed passes over the rows (their JSON keys first, for the header; then the rows).

The web button, the admin action and the `export_calls` command all read through here, so
the three doors export exactly the same rows for the same filters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.contrib.auth.models import AnonymousUser, User
from django.db import connections
from django.db.models import F, QuerySet
from django.utils.dateparse import parse_datetime

from calls.models import Call, CallSnapshot, Organization, Role
from calls.selectors.live import search_q

STATUSES = ("live", "ended", "all")
# Rows fetched per database round trip while streaming: memory stays flat at any size.
CHUNK_SIZE = 1000

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
    """The live list's search box, with the list's own semantics (calls.selectors.live)."""
    query = query.strip()
    return calls.filter(search_q(query)) if query else calls


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


# The call's own columns; a snapshot row reads them through its call.
_CALL_COLUMNS = (
    "organization_id",
    "transaction_id",
    "call_record_id",
    "external_unique_id",
    "calling_phone_number",
    "calling_phone_number_raw",
    "destination_phone_number",
    "destination_phone_number_raw",
    "called_phone_number",
    "called_phone_number_raw",
    "phone_type",
    "bridge_start_time",
    "start_time",
    "first_seen_at",
    "last_seen_at",
    "ended_at",
)
JSON_COLUMNS = ("general", "custom_data", "demographics")
_STATE_COLUMNS = ("call_status", *JSON_COLUMNS)  # a snapshot's own, else the call's latest


class ExportRecord(NamedTuple):
    """One row's data, named the same whether it is a call's or one of its snapshots'."""

    organization_id: int
    transaction_id: str
    call_record_id: str
    external_unique_id: str
    calling_phone_number: str
    calling_phone_number_raw: str
    destination_phone_number: str
    destination_phone_number_raw: str
    called_phone_number: str
    called_phone_number_raw: str
    phone_type: str
    bridge_start_time: datetime | None
    start_time: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    call_status: str
    general: JsonObject | None
    custom_data: JsonObject | None
    demographics: JsonObject | None
    organization_name: str
    observed_at: datetime | None = None


@dataclass(frozen=True)
class ExportSource:
    """What one export reads: calls (one row each, their latest state) or their snapshots.

    Rows are read as plain tuples, not model instances: an export of a million rows spends
    its time formatting, not building objects it throws away."""

    calls: QuerySet[Call]
    snapshots: QuerySet[CallSnapshot] | None = None

    @property
    def rows(self) -> QuerySet[Any]:
        return self.snapshots if self.snapshots is not None else self.calls

    def json_keys(self) -> dict[str, set[str]]:
        """Every key of general, custom_data and demographics present in the export."""
        rows = self.rows.order_by()
        vendor = connections[rows.db].vendor
        if vendor in _DISTINCT_KEYS_SQL:
            return {column: _distinct_keys(rows, column, vendor) for column in JSON_COLUMNS}
        keys: dict[str, set[str]] = {column: set() for column in JSON_COLUMNS}
        for values in rows.values_list(*JSON_COLUMNS).iterator(chunk_size=CHUNK_SIZE):
            for column, value in zip(JSON_COLUMNS, values, strict=True):
                if isinstance(value, dict):
                    keys[column].update(value)
        return keys

    def records(self) -> Iterator[ExportRecord]:
        if self.snapshots is None:
            rows = self.calls.annotate(organization_name=F("organization__name")).order_by(
                "first_seen_at", "pk"
            )
            names = (*_CALL_COLUMNS, *_STATE_COLUMNS, "organization_name")
            for values in rows.values_list(*names).iterator(chunk_size=CHUNK_SIZE):
                yield ExportRecord(*values)
            return
        aliases = {name: F(f"call__{name}") for name in _CALL_COLUMNS}
        snapshots = self.snapshots.annotate(
            organization_name=F("call__organization__name"), **aliases
        ).order_by("call__first_seen_at", "call_id", "observed_at", "pk")
        names = (*_CALL_COLUMNS, *_STATE_COLUMNS, "organization_name", "observed_at")
        for values in snapshots.values_list(*names).iterator(chunk_size=CHUNK_SIZE):
            yield ExportRecord(*values)


# The keys of one JSON column over the export's rows, computed by the database in one pass.
_DISTINCT_KEYS_SQL = {
    "postgresql": (
        "SELECT DISTINCT jsonb_object_keys(rows.value) FROM ({rows}) rows "
        "WHERE jsonb_typeof(rows.value) = 'object'"
    ),
    "sqlite": (
        "SELECT DISTINCT item.key FROM ({rows}) rows, json_each(rows.value) item "
        "WHERE json_type(rows.value) = 'object'"
    ),
}


def _distinct_keys(rows: QuerySet[Any], column: str, vendor: str) -> set[str]:
    sql, params = rows.values(value=F(column)).query.sql_with_params()
    with connections[rows.db].cursor() as cursor:
        cursor.execute(_DISTINCT_KEYS_SQL[vendor].format(rows=sql), params)
        return {key for (key,) in cursor.fetchall()}


def export_source(*, calls: QuerySet[Call], filters: ExportFilters) -> ExportSource:
    if not filters.snapshots:
        return ExportSource(calls=calls)
    snapshots = CallSnapshot.objects.filter(call__in=calls.values("pk"))
    if filters.since is not None:
        snapshots = snapshots.filter(observed_at__gte=filters.since)
    if filters.until is not None:
        snapshots = snapshots.filter(observed_at__lt=filters.until)
    return ExportSource(calls=calls, snapshots=snapshots)
