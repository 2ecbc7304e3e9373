"""CSV rows and cell sanitising, shared by the web export, the admin action and export_calls.

The header needs every custom data field and demographics key present in the export, and
rows are streamed, so an export reads its rows twice: once for their JSON keys only, then
for the rows themselves. Both passes iterate in chunks; memory stays flat at any size.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from calls.models import Call, CallSnapshot
from calls.selectors.export import ExportSource

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
_CALL_GENERAL = {
    "phone_type": lambda call: call.phone_type,
    "start_time": lambda call: _time(call.start_time),
    "destination_phone_number_raw": lambda call: call.destination_phone_number_raw,
    "called_phone_number_raw": lambda call: call.called_phone_number_raw,
}
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


def _time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


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


def export_columns(
    *, json_fields: Iterable[tuple[Mapping[str, Any], ...]], snapshots: bool
) -> ExportColumns:
    general: set[str] = set()
    custom: set[str] = set()
    demographics: set[str] = set()
    for general_fields, custom_data, demographics_data in json_fields:
        general.update(general_fields or ())
        custom.update(custom_data or ())
        demographics.update(demographics_data or ())
    extra_general = sorted(general - set(GENERAL_COLUMNS))
    return ExportColumns(
        snapshots=snapshots,
        general=GENERAL_COLUMNS + tuple(extra_general),
        custom=tuple(sorted(custom)),
        demographics=tuple(sorted(demographics)),
    )


def _duration_seconds(call: Call, now: datetime) -> str:
    start = call.bridge_start_time or call.first_seen_at
    end = call.ended_at or now
    return str(max(0, int((end - start).total_seconds())))


def export_row(
    *, call: Call, snapshot: CallSnapshot | None, columns: ExportColumns, now: datetime
) -> list[str]:
    """One CSV row: the call's identity, and its state as of the snapshot (or the latest)."""
    state: Call | CallSnapshot = snapshot if snapshot is not None else call
    row = [
        str(call.organization_id),
        call.organization.name,
        call.transaction_id,
        call.call_record_id,
        call.external_unique_id,
        "live" if call.ended_at is None else "ended",
        state.call_status,
        call.calling_phone_number,
        call.calling_phone_number_raw,
        call.destination_phone_number,
        call.called_phone_number,
        _time(call.bridge_start_time),
        _time(call.first_seen_at),
        _time(call.last_seen_at),
        _time(call.ended_at),
        _duration_seconds(call, now),
    ]
    if snapshot is not None:
        row.append(_time(snapshot.observed_at))
    general = state.general or {}
    for name in columns.general:
        own = _CALL_GENERAL.get(name)
        row.append(own(call) if own else _text(general.get(name)))
    custom = state.custom_data or {}
    for name in columns.custom:
        entry = custom.get(name)
        if isinstance(entry, dict):
            row.extend((_text(entry.get("value")), _text(entry.get("source"))))
        else:
            row.extend((_text(entry), ""))
    demographics = state.demographics or {}
    row.extend(_text(demographics.get(key)) for key in columns.demographics)
    return [cell_neutralise(cell) for cell in row]


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
) -> Iterator[str]:
    """The CSV text in pieces of `batch` rows. `on_finish(rows, complete)` runs once at the
    end, also when the consumer stops early (a closed download), with complete=False."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    rows = 0
    complete = False
    try:
        columns = export_columns(
            json_fields=source.json_fields(), snapshots=source.snapshots is not None
        )
        yield (BOM if bom else "") + writer.writerow(columns.header())
        pending: list[str] = []
        for call, snapshot in source.records():
            pending.append(
                writer.writerow(export_row(call=call, snapshot=snapshot, columns=columns, now=now))
            )
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
