"""Reads for the CSV export: its filters, the calls they match, and the rows, streamed in one
pass (ExportSource.records; calls.export.spool keeps them for writing).

The web button, the admin action and the `export_calls` command all export through
calls.services.exports, which reads here, so the three doors export exactly the same rows for
the same filters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    Expression,
    F,
    Func,
    QuerySet,
    TextField,
    When,
    Window,
)
from django.db.models.functions import Cast, Lag, RowNumber
from django.db.models.lookups import Exact

from calls.models import (
    CALL_INVOCA_COLUMNS,
    Call,
    CallSnapshot,
    call_last_seen,
)
from calls.selectors.filters import STATUS_ENDED, STATUS_LIVE, ExportFilters
from calls.selectors.search import search_q

# Rows fetched per database round trip while streaming: memory stays flat at any size.
CHUNK_SIZE = 1000


def calls_search(calls: QuerySet[Call], *, query: str) -> QuerySet[Call]:
    """The live list's search box, with the list's own semantics (calls.selectors.live)."""
    query = query.strip()
    return calls.filter(search_q(query)) if query else calls


def calls_filter(calls: QuerySet[Call], *, filters: ExportFilters) -> QuerySet[Call]:
    if filters.organization_id is not None:
        calls = calls.filter(organization_id=filters.organization_id)
    if filters.status == STATUS_LIVE:
        calls = calls.filter(ended_at__isnull=True)
    elif filters.status == STATUS_ENDED:
        calls = calls.filter(ended_at__isnull=False)
    # A call belongs to a window when it was live at some moment inside it.
    if filters.since is not None:
        calls = calls.alias(export_last_seen=call_last_seen()).filter(
            export_last_seen__gte=filters.since
        )
    if filters.until is not None:
        calls = calls.filter(first_seen_at__lt=filters.until)
    return calls_search(calls, query=filters.query)


def calls_for_export(
    *, organization_ids: list[int] | None, filters: ExportFilters
) -> QuerySet[Call]:
    """The calls of these organizations (None: of every organization) the filters match."""
    calls = Call.objects.all()
    if organization_ids is not None:
        calls = calls.filter(organization_id__in=organization_ids)
    return calls_filter(calls, filters=filters)


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


class ExportRecord(NamedTuple):
    """One row's data, named the same whether it is a call's or one of its snapshots'.

    Times are ISO 8601 UTC text as the database formatted it (_UtcText), JSON columns are
    their JSON text: decoding them is left to the row writer, the only reader.

    A call's snapshots come one after another and repeat much of the row before them (the
    JSON alone is a few kB a row), which may be left out rather than formatted and sent again
    (by PostgreSQL in the query, ExportSource.records; by calls.export.spool in its file): the
    call's own columns, up to organization_name, then come with its first row only
    (`starts_call`; None after it), and a JSON column only when it differs from the row
    before (None: the same as that row's)."""

    starts_call: bool
    organization_id: int | None
    transaction_id: str | None
    call_record_id: str | None
    external_unique_id: str | None
    calling_phone_number: str | None
    calling_phone_number_raw: str | None
    destination_phone_number: str | None
    destination_phone_number_raw: str | None
    called_phone_number: str | None
    called_phone_number_raw: str | None
    phone_type: str | None
    bridge_start_time: str | datetime | None
    start_time: str | datetime | None
    first_seen_at: str | datetime | None
    last_seen_at: str | datetime | None
    ended_at: str | datetime | None
    organization_name: str | None
    call_status: str
    general: str | None
    custom_data: str | None
    demographics: str | None
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


class _Differs(Func):
    """`a IS DISTINCT FROM b`: unlike `<>`, true also when only one of them is null. Used on
    PostgreSQL only (SQLite leaves repeats out in Python: calls.export.spool)."""

    arg_joiner = " IS DISTINCT FROM "
    template = "(%(expressions)s)"
    output_field = BooleanField()


def _as_text(name: str, path: str = "") -> Func | F:
    """A column as ExportRecord holds it; `path` leads to the call (a snapshot's call__)."""
    column = call_last_seen(path=path) if name == "last_seen_at" else F(path + name)
    if name in _TIME_COLUMNS:
        return _UtcText(column)
    if name in JSON_COLUMNS:
        return Cast(column, TextField())
    return column


def _per_call(expression: Expression) -> Window:
    """`expression` over the snapshots of each call, in the order they were observed.

    Partitioned by the call's first sighting as well as its id: the window's order is then
    the export's, and the database sorts the rows once for both."""
    return Window(
        expression,
        partition_by=[F("call__first_seen_at"), F("call_id")],
        order_by=[F("observed_at").asc(), F("pk").asc()],
    )


def _json_if_changed(name: str) -> Case:
    """A snapshot's JSON column as text, or null when it equals the call's snapshot before."""
    return Case(When(_Differs(F(name), _per_call(Lag(name))), then=_as_text(name)))


def _values(rows: QuerySet[Any], expressions: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    """Tuples of `expressions`, in their order, fetched in chunks."""
    named = {f"export_{name}": expression for name, expression in expressions.items()}
    tuples: Iterator[tuple[Any, ...]] = (
        rows.annotate(**named).values_list(*named).iterator(chunk_size=CHUNK_SIZE)
    )
    return tuples


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

    @property
    def _leaves_out_repeats(self) -> bool:
        """Whether the database leaves out what a snapshot row repeats (ExportRecord). On
        SQLite its window functions measured slower than reading the repeats."""
        return self.snapshots is not None and connections[self.rows.db].vendor != "sqlite"

    def _json_texts(self) -> dict[str, Any]:
        if self._leaves_out_repeats:
            return {column: _json_if_changed(column) for column in JSON_COLUMNS}
        return {column: _as_text(column) for column in JSON_COLUMNS}

    def records(self) -> Iterator[ExportRecord]:
        """In ExportRecord's field order: the call's columns and its organization's name, the
        state, and for snapshots when each was observed."""
        state = {"call_status": F("call_status"), **self._json_texts()}
        if self.snapshots is None:
            calls: dict[str, Any] = {name: _as_text(name) for name in _CALL_COLUMNS}
            calls["organization_name"] = F("organization__name")
            for values in _values(self.calls.order_by("first_seen_at", "pk"), calls | state):
                yield ExportRecord(True, *values)
            return
        rows = self.snapshots.order_by("call__first_seen_at", "call_id", "observed_at", "pk")
        calls = {name: _as_text(name, "call__") for name in _CALL_COLUMNS}
        calls["organization_name"] = F("call__organization__name")
        observed = {"observed_at": _as_text("observed_at")}
        if self._leaves_out_repeats:
            starts_call = Exact(_per_call(RowNumber()), 1)
            first_only = {
                name: Case(When(starts_call, then=value)) for name, value in calls.items()
            }
            expressions = {"starts_call": starts_call, **first_only, **state, **observed}
            for values in _values(rows, expressions):
                yield ExportRecord(*values)
            return
        previous = None
        for call_id, *rest in _values(
            rows, {"call_id": F("call_id"), **calls, **state, **observed}
        ):
            yield ExportRecord(call_id != previous, *rest)
            previous = call_id


def export_source(*, calls: QuerySet[Call], filters: ExportFilters) -> ExportSource:
    if not filters.snapshots:
        return ExportSource(calls=calls)
    snapshots = CallSnapshot.objects.filter(call__in=calls.values("pk"))
    if filters.since is not None:
        snapshots = snapshots.filter(observed_at__gte=filters.since)
    if filters.until is not None:
        snapshots = snapshots.filter(observed_at__lt=filters.until)
    return ExportSource(calls=calls, snapshots=snapshots)
