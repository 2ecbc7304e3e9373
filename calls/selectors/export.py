"""Reads for the CSV export: who may export which organizations, the list's filters, and the
two streamed passes over the rows (their JSON keys first, for the header; then the rows).

The web button, the admin action and the `export_calls` command all read through here, so
the three doors export exactly the same rows for the same filters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from django.contrib.auth.models import AnonymousUser, User
from django.db import connections
from django.db.models import F, Func, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils.dateparse import parse_datetime

from calls.models import CALL_INVOCA_COLUMNS, Call, CallSnapshot, Organization, Role
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
    *CALL_INVOCA_COLUMNS,
    "first_seen_at",
    "last_seen_at",
    "ended_at",
)
JSON_COLUMNS = ("general", "custom_data", "demographics")
_STATE_COLUMNS = ("call_status", *JSON_COLUMNS)  # a snapshot's own, else the call's latest


class ExportRecord(NamedTuple):
    """One row's data, named the same whether it is a call's or one of its snapshots'.

    Times are ISO 8601 UTC text as the database formatted it (_UtcText), JSON columns are
    their JSON text: decoding them is left to the row writer, the only reader."""

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
    bridge_start_time: str | datetime | None
    start_time: str | datetime | None
    first_seen_at: str | datetime
    last_seen_at: str | datetime
    ended_at: str | datetime | None
    call_status: str
    general: str | None
    custom_data: str | None
    demographics: str | None
    organization_name: str
    observed_at: str | datetime | None = None


_TIME_COLUMNS = frozenset(
    {"bridge_start_time", "start_time", "first_seen_at", "last_seen_at", "ended_at", "observed_at"}
)


class _UtcText(Func):
    """A datetime column as ISO 8601 UTC text, as `calls.export.rows._time` writes it
    (microseconds only when there are some), formatted by the database.

    SQLite keeps UTC datetimes as 'YYYY-MM-DD HH:MM:SS[.ffffff]' text, which needs only its
    space and zone replaced. On PostgreSQL, to_char measured cheaper than the driver building
    an aware datetime for each value only for it to be formatted again."""

    template = "%(expressions)s"
    output_field = TextField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="(replace(%(expressions)s, ' ', 'T') || 'Z')", **extra
        )

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        utc = "(%(expressions)s AT TIME ZONE 'UTC')"
        template = (
            f"(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE to_char({utc}, 'US') "
            f"WHEN '000000' THEN '' ELSE to_char({utc}, '.US') END || 'Z')"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


def _read_as_text(name: str, path: str = "") -> Func | Cast:
    column = F(path + name)
    if name in _TIME_COLUMNS:
        return _UtcText(column)
    if name in JSON_COLUMNS:
        return Cast(column, TextField())
    return column  # type: ignore[return-value]


def json_loads(text: str) -> Any:
    """`json.loads`, through orjson where it can (several times faster). orjson refuses what
    only Python's json reads (NaN, Infinity, lone surrogates) and turns integers beyond 64 bits
    into floats: callers that write values out must not trust its floats (calls.export.rows)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _values(rows: QuerySet[Any], expressions: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    """Tuples of `expressions`, in their order, fetched in chunks."""
    named = {f"export_{name}": expression for name, expression in expressions.items()}
    return rows.annotate(**named).values_list(*named).iterator(chunk_size=CHUNK_SIZE)


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
        if connections[rows.db].vendor == "sqlite":
            # json_each in SQLite's C code beats decoding every value in Python; elsewhere
            # (PostgreSQL's jsonb_object_keys with DISTINCT) it measured slower.
            return {column: _sqlite_distinct_keys(rows, column) for column in JSON_COLUMNS}
        keys: dict[str, set[str]] = {column: set() for column in JSON_COLUMNS}
        as_text = {column: _read_as_text(column) for column in JSON_COLUMNS}
        previous: tuple[str | None, ...] = (None,) * len(JSON_COLUMNS)
        for values in _values(rows, as_text):
            for column, text, before in zip(JSON_COLUMNS, values, previous, strict=True):
                # A call's snapshots often repeat a column as it was: its keys are known.
                value = json_loads(text) if text and text != before else None
                if type(value) is dict:
                    keys[column].update(value)
            previous = values
        return keys

    def records(self) -> Iterator[ExportRecord]:
        """In ExportRecord's field order: the call's columns, the state, the organization's
        name, and for snapshots when each was observed."""
        rows: QuerySet[Any]
        if self.snapshots is None:
            rows, call_path = self.calls.order_by("first_seen_at", "pk"), ""
        else:
            rows = self.snapshots.order_by("call__first_seen_at", "call_id", "observed_at", "pk")
            call_path = "call__"
        expressions: dict[str, Any] = {
            name: _read_as_text(name, call_path if name in _CALL_COLUMNS else "")
            for name in (*_CALL_COLUMNS, *_STATE_COLUMNS)
        }
        expressions["organization_name"] = F(f"{call_path}organization__name")
        if self.snapshots is not None:
            expressions["observed_at"] = _read_as_text("observed_at")
        for values in _values(rows, expressions):
            yield ExportRecord(*values)


def _sqlite_distinct_keys(rows: QuerySet[Any], column: str) -> set[str]:
    sql, params = rows.values(export_value=F(column)).query.sql_with_params()
    # Django's own compiled query, wrapped; every value in it stays a parameter.
    query = (
        f"SELECT DISTINCT item.key FROM ({sql}) export_rows, "  # noqa: S608
        "json_each(export_rows.export_value) item "
        "WHERE json_type(export_rows.export_value) = 'object'"
    )
    with connections[rows.db].cursor() as cursor:
        cursor.execute(query, params)
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
