"""CSV rows and cell sanitising, shared by the web export, the admin action and export_calls.

The header needs every custom data field and demographics key present in the export, and
rows are streamed: an export reads its records once, into a temporary file that gathers the
keys (calls.export.spool), then writes the header and the rows from that file. Memory stays
flat at any size.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, islice, repeat
from typing import Any

from calls.export.spool import SPOOL_MEMORY_BYTES, records_spool, records_unspool
from calls.jsoncolumns import json_object
from calls.selectors.export import ExportRecord, ExportSource

CALL_COLUMNS = (
    "organization_id",
    "organization",
    "transaction_id",
    "call_record_id",
    "external_unique_id",
    "status",
    "call_status",
    "calling_phone_number",
    "calling_phone_number_raw",
    "destination_phone_number",
    "called_phone_number",
    "bridge_start_time",
    "first_seen_at",
    "last_seen_at",
    "ended_at",
    "duration_seconds",
)
SNAPSHOT_COLUMN = "observed_at"
# Fields kept in columns of their own on Call, then the documented general fields, so that
# the header is the same for every export; undocumented fields present follow, sorted.
GENERAL_COLUMNS = (
    "phone_type",
    "start_time",
    "destination_phone_number_raw",
    "called_phone_number_raw",
    "repeat_calling_phone_number",
    "advertiser_id",
    "advertiser_name",
    "advertiser_id_from_network",
    "advertiser_campaign_id",
    "advertiser_campaign_id_from_network",
    "advertiser_campaign_name",
    "advertiser_campaign_country",
    "affiliate_id",
    "affiliate_name",
    "affiliate_id_from_network",
    "affiliate_campaign_id_from_network",
    "affiliate_commissions_ranking",
    "affiliate_conversion_rate_ranking",
    "affiliate_volume_ranking",
    "promo_number_id",
    "promo_number_description",
    "media_type",
    "source",
    "city",
    "region",
    "qualified_regions",
    "zip_code",
    "verified_zip_code",
    "keypress_1",
    "keypress_2",
    "keypress_3",
    "keypress_4",
    "keypresses",
)
# General columns that Call keeps in columns of its own rather than in `general`.
_RECORD_GENERAL = (
    "phone_type",
    "start_time",
    "destination_phone_number_raw",
    "called_phone_number_raw",
)
assert GENERAL_COLUMNS[: len(_RECORD_GENERAL)] == _RECORD_GENERAL
BOM = "\ufeff"
# A spreadsheet evaluates a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(_FORMULA_STARTS)
# ...but a plain number or phone number is data, and must stay usable as one.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_PHONE = re.compile(r"\+\d[\d ().-]{5,25}\d")


def cell_neutralise(value: str) -> str:
    """Prefix a would-be formula with `'` so spreadsheets show it as text (CSV injection)."""
    if not value.startswith(_FORMULA_STARTS):
        return value
    if _NUMBER.fullmatch(value) or _PHONE.fullmatch(value):
        return value
    return "'" + value


def _time(moment: str | datetime | None) -> str:
    """ISO 8601 UTC; the database may already have written it so (ExportRecord)."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        return moment
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _moment(value: str | datetime) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _text(value: Any) -> str:
    """A JSON value as a cell, neutralised: text as it came, true/false, numbers as JSON."""
    if value is None:
        return ""
    if type(value) is not str:
        if isinstance(value, bool):
            return "true" if value else "false"
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    # Most cells start harmlessly; only those that do not pay for the full check.
    return cell_neutralise(value) if value[:1] in _FORMULA_FIRST else value


@dataclass(frozen=True, slots=True)
class ExportColumns:
    snapshots: bool
    general: tuple[str, ...]
    custom: tuple[str, ...]
    demographics: tuple[str, ...]

    def header(self) -> list[str]:
        names = list(CALL_COLUMNS)
        if self.snapshots:
            names.append(SNAPSHOT_COLUMN)
        names.extend(self.general)
        for name in self.custom:
            names.extend((f"custom.{name}", f"custom.{name}.source"))
        names.extend(f"demographics.{key}" for key in self.demographics)
        # Payload keys are the sender's text, as open to a formula as any value.
        return [cell_neutralise(name) for name in names]


def export_columns(*, keys: Mapping[str, Iterable[str]], snapshots: bool) -> ExportColumns:
    """The header's columns for the JSON keys present in the export (records_spool)."""
    extra_general = sorted(set(keys.get("general", ())) - set(GENERAL_COLUMNS))
    return ExportColumns(
        snapshots=snapshots,
        general=GENERAL_COLUMNS + tuple(extra_general),
        custom=tuple(sorted(keys.get("custom_data", ()))),
        demographics=tuple(sorted(keys.get("demographics", ()))),
    )


def _duration_seconds(record: ExportRecord, now: datetime) -> str:
    started = record.bridge_start_time or record.first_seen_at
    assert started is not None  # a call's first row (ExportRecord.starts_call)
    start = _moment(started)
    end = _moment(record.ended_at) if record.ended_at else now
    return str(max(0, int((end - start).total_seconds())))


_PLAIN_TYPES = frozenset({str, bool, type(None)})
# dict.get(value, value) leaves text and null as they are; only str, bool and None get here,
# so 1 == True cannot turn a number into "true".
_BOOLEAN_CELLS: dict[Any, str] = {True: "true", False: "false"}
_SEPARATOR = "\x00"
_FORMULA_AFTER_SEPARATOR = re.compile(_SEPARATOR + "[" + re.escape("".join(_FORMULA_STARTS)) + "]")


def _plain_cells(values: list[Any]) -> list[Any] | None:
    """`values` as cells if each is text, a boolean or null (None: csv writes ""), and none
    starts like a formula: nearly every JSON value of a real export. Otherwise None, and the
    caller takes `_text` cell by cell. Whole-list checks run in C instead of a Python test per
    cell, the hot loop of a large export."""
    types = set(map(type, values))
    if not types <= _PLAIN_TYPES:
        return None
    if bool in types:
        values = list(map(_BOOLEAN_CELLS.get, values, values))
    # A false alarm (a separator inside a value) only sends the column the careful way.
    joined = _SEPARATOR + _SEPARATOR.join(filter(None, values))
    return None if _FORMULA_AFTER_SEPARATOR.search(joined) else values


def _object_cells(text: str | None, keys: tuple[str, ...]) -> list[Any]:
    """A general or demographics column: the value of each key, neutralised. orjson (the
    default decoder) may turn an integer beyond 64 bits into a float: _plain_cells takes no
    number, so such a column goes the careful way, decoded again by json.loads."""
    cells = _plain_cells(list(map(json_object(text).get, keys)))
    if cells is None:
        cells = list(map(_text, map(json_object(text, loads=json.loads).get, keys)))
    return cells


_NO_ENTRY: dict[str, Any] = {}


def _custom_cells(text: str | None, names: tuple[str, ...]) -> list[Any]:
    """The custom data column: each field's value and source, neutralised."""
    entries = list(map(json_object(text).get, names, repeat(_NO_ENTRY)))
    if set(map(type, entries)) <= {dict}:
        values = map(dict.get, entries, repeat("value"))
        sources = map(dict.get, entries, repeat("source"))
        cells = _plain_cells(list(chain.from_iterable(zip(values, sources, strict=True))))
        if cells is not None:
            return cells
    cells = []
    for entry in map(json_object(text, loads=json.loads).get, names):
        if type(entry) is dict:
            cells += (_text(entry.get("value")), _text(entry.get("source")))
        else:  # absent from this row (""), or a bare value with no source
            cells += (_text(entry), "")
    return cells


_CallCells = tuple[list[str], list[str], list[str]]


def _call_cells(record: ExportRecord, now: datetime) -> _CallCells:
    """The cells that depend only on the call, in three runs: before call_status, after it,
    and after observed_at. Every text cell goes through `_text`, which neutralises formulas;
    ids, times, the status and the duration are written by us and cannot start one."""
    text = _text
    return (
        [
            str(record.organization_id),
            text(record.organization_name),
            text(record.transaction_id),
            text(record.call_record_id),
            text(record.external_unique_id),
            "live" if record.ended_at is None else "ended",
        ],
        [
            text(record.calling_phone_number),
            text(record.calling_phone_number_raw),
            text(record.destination_phone_number),
            text(record.called_phone_number),
            _time(record.bridge_start_time),
            _time(record.first_seen_at),
            _time(record.last_seen_at),
            _time(record.ended_at),
            _duration_seconds(record, now),
        ],
        [
            text(record.phone_type),
            _time(record.start_time),
            text(record.destination_phone_number_raw),
            text(record.called_phone_number_raw),
        ],
    )


def export_rows(
    *, records: Iterable[ExportRecord], columns: ExportColumns, now: datetime
) -> Iterator[list[Any]]:
    """One CSV row per record: the call's identity, and its state as of the snapshot (or the
    latest). Cells are text, or None for an empty cell (csv writes ""); every text cell is
    neutralised.

    A call's snapshots come one after another, and each differs from the one before in some
    of its columns only (often just the status or custom data): cells are built again only
    for what differs from the previous row, as ExportRecord tells (the call's columns on its
    first row only, a JSON column None when unchanged: calls.export.spool)."""
    general_keys = columns.general[len(_RECORD_GENERAL) :]
    call: _CallCells = ([], [], [])
    general: list[Any] = []
    custom: list[Any] = []
    demographics: list[Any] = []
    for record in records:
        if record.starts_call:
            call = _call_cells(record, now)
        if record.general is not None:
            general = _object_cells(record.general, general_keys)
        if record.custom_data is not None:
            custom = _custom_cells(record.custom_data, columns.custom)
        if record.demographics is not None:
            demographics = _object_cells(record.demographics, columns.demographics)
        before_status, after_status, after_observed = call
        row: list[Any] = [*before_status, _text(record.call_status), *after_status]
        if columns.snapshots:
            row.append(_time(record.observed_at))
        row += after_observed
        row += general
        row += custom
        row += demographics
        yield row


class _Lines(list[str]):
    """csv.writer's file: keeps the formatted lines, for the caller to join and clear."""

    write = list.append


def export_lines(
    *,
    source: ExportSource,
    now: datetime,
    bom: bool = False,
    on_finish: Callable[[int, bool], None] | None = None,
    batch: int = 500,
) -> Generator[str, None, None]:
    """The CSV text in pieces of `batch` rows. `on_finish(rows, complete)` runs once at the
    end, also when the consumer stops early (a closed download), with complete=False."""
    out = _Lines()
    writer = csv.writer(out, lineterminator="\r\n")
    rows = 0
    complete = False
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
            keys = records_spool(records=source.records(), file=spool)
            columns = export_columns(keys=keys, snapshots=source.snapshots is not None)
            writer.writerow(columns.header())
            yield (BOM if bom else "") + out.pop()
            lines = export_rows(records=records_unspool(file=spool), columns=columns, now=now)
            while chunk := list(islice(lines, batch)):
                writer.writerows(chunk)  # formats the batch in C
                rows += len(chunk)
                piece = "".join(out)
                out.clear()
                yield piece
        complete = True
    finally:
        if on_finish is not None:
            on_finish(rows, complete)


def export_filename(*, now: datetime, organization_id: int | None = None) -> str:
    scope = f"org{organization_id}" if organization_id is not None else "all"
    return f"cipdash-calls-{scope}-{now.astimezone(UTC):%Y%m%d-%H%M%S}.csv"
