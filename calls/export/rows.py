"""CSV rows and cell sanitising, shared by the web export, the admin action and export_calls.

The header needs every custom data field and demographics key present in the export, and
rows are streamed, so an export reads its rows twice: once for their JSON keys only, then
for the rows themselves. Both passes iterate in chunks; memory stays flat at any size.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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


_FORMULA_FIRST = frozenset(_FORMULA_STARTS)


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
        return names


def export_columns(*, keys: Mapping[str, Iterable[str]], snapshots: bool) -> ExportColumns:
    """The header's columns for the JSON keys present in the export (ExportSource.json_keys)."""
    extra_general = sorted(set(keys.get("general", ())) - set(GENERAL_COLUMNS))
    return ExportColumns(
        snapshots=snapshots,
        general=GENERAL_COLUMNS + tuple(extra_general),
        custom=tuple(sorted(keys.get("custom_data", ()))),
        demographics=tuple(sorted(keys.get("demographics", ()))),
    )


def _duration_seconds(record: ExportRecord, now: datetime) -> str:
    start = _moment(record.bridge_start_time or record.first_seen_at)
    end = _moment(record.ended_at) if record.ended_at else now
    return str(max(0, int((end - start).total_seconds())))


def _json_object(text: str | None) -> dict[str, Any]:
    value = json.loads(text) if text else None
    return value if type(value) is dict else {}


def export_row(*, record: ExportRecord, columns: ExportColumns, now: datetime) -> list[str]:
    """One CSV row: the call's identity, and its state as of the snapshot (or the latest).

    Every cell goes through `_text`, which neutralises formulas."""
    text = _text
    row = [
        str(record.organization_id),
        text(record.organization_name),
        text(record.transaction_id),
        text(record.call_record_id),
        text(record.external_unique_id),
        "live" if record.ended_at is None else "ended",
        text(record.call_status),
        text(record.calling_phone_number),
        text(record.calling_phone_number_raw),
        text(record.destination_phone_number),
        text(record.called_phone_number),
        _time(record.bridge_start_time),
        _time(record.first_seen_at),
        _time(record.last_seen_at),
        _time(record.ended_at),
        _duration_seconds(record, now),
    ]
    if columns.snapshots:
        row.append(_time(record.observed_at))
    row.extend(
        (
            text(record.phone_type),
            _time(record.start_time),
            text(record.destination_phone_number_raw),
            text(record.called_phone_number_raw),
        )
    )
    # The hot loop of a large export: plain text that cannot start a formula (nearly every
    # value) is taken as it is, without a call.
    first = _FORMULA_FIRST
    general = _json_object(record.general)
    row.extend(
        [
            value
            if type(value) is str and value[:1] not in first
            else ("" if value is None else text(value))
            for value in map(general.get, columns.general[len(_RECORD_GENERAL) :])
        ]
    )
    custom = _json_object(record.custom_data)
    append = row.append
    for entry in map(custom.get, columns.custom):
        if type(entry) is dict:
            value, source = entry.get("value"), entry.get("source")
            append(
                value
                if type(value) is str and value[:1] not in first
                else ("" if value is None else text(value))
            )
            append(source if type(source) is str and source[:1] not in first else text(source))
        else:  # absent from this row (""), or a bare value with no source
            append("" if entry is None else text(entry))
            append("")
    demographics = _json_object(record.demographics)
    row.extend(
        [
            value
            if type(value) is str and value[:1] not in first
            else ("" if value is None else text(value))
            for value in map(demographics.get, columns.demographics)
        ]
    )
    return row


class _Echo:
    """csv.writer's file: hands each formatted line back instead of storing it."""

    def write(self, line: str) -> str:
        return line


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
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    rows = 0
    complete = False
    try:
        columns = export_columns(keys=source.json_keys(), snapshots=source.snapshots is not None)
        yield (BOM if bom else "") + writer.writerow(columns.header())
        pending: list[str] = []
        for record in source.records():
            pending.append(writer.writerow(export_row(record=record, columns=columns, now=now)))
            rows += 1
            if len(pending) >= batch:
                yield "".join(pending)
                pending.clear()
        if pending:
            yield "".join(pending)
        complete = True
    finally:
        if on_finish is not None:
            on_finish(rows, complete)


def export_filename(*, now: datetime, organization_id: int | None = None) -> str:
    scope = f"org{organization_id}" if organization_id is not None else "all"
    return f"cipdash-calls-{scope}-{now.astimezone(UTC):%Y%m%d-%H%M%S}.csv"
