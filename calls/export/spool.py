"""An export's records, read once from the database and kept in a temporary file.

The CSV header needs every JSON key present in the export before the first row. Reading the
rows twice, once for their keys and once to write them, cost as much again as the read
itself; instead the one read writes its records to a temporary file, gathering the keys on
the way, and the rows are then written from the file. Memory stays flat at any size (the file
moves to disk past SPOOL_MEMORY_BYTES), and the header always matches the rows: both come
from one query.

The file holds what a row does not repeat from the row before it, as ExportRecord allows
(the call's columns on its first row only, a JSON column only when it differs): about 0.3 kB
a row plus the JSON that changed (bench/export.py: 26 MB for 100,000 snapshots that repeat
their JSON, 85 MB when each changes a custom field).
"""

from __future__ import annotations

import marshal
import struct
from collections.abc import Iterable, Iterator
from typing import IO, Any

from calls.jsoncolumns import json_object
from calls.selectors.export import JSON_COLUMNS, ExportRecord

# Small exports never touch the disk; larger ones keep no more than this in memory.
SPOOL_MEMORY_BYTES = 1024 * 1024
# Records per marshal call: one C call formats or reads a batch.
_BATCH = 1000
_LENGTH = struct.Struct("<I")
# The call's own fields come first in ExportRecord; a row that does not start a call leaves
# them out.
_STATE_START = ExportRecord._fields.index("organization_name") + 1
_CONTINUING = (False,) + (None,) * (_STATE_START - 1)
assert ExportRecord._fields[_STATE_START:] == ("call_status", *JSON_COLUMNS, "observed_at")


def _batch_write(file: IO[bytes], batch: list[tuple[Any, ...]]) -> None:
    data = marshal.dumps(batch)
    file.write(_LENGTH.pack(len(data)))
    file.write(data)


def records_spool(*, records: Iterable[ExportRecord], file: IO[bytes]) -> dict[str, set[str]]:
    """Write `records` to `file`; answer every key of their general, custom_data and
    demographics objects (for the header)."""
    keys: dict[str, set[str]] = {column: set() for column in JSON_COLUMNS}
    general_keys, custom_keys, demographics_keys = keys.values()
    general_before = custom_before = demographics_before = None
    batch: list[tuple[Any, ...]] = []
    for record in records:
        general, custom, demographics = record.general, record.custom_data, record.demographics
        # Written out by column rather than in a loop: this runs once for every row.
        if general is not None and general != general_before:
            general_before = general
            _keys_add(general_keys, general)
        else:
            general = None
        if custom is not None and custom != custom_before:
            custom_before = custom
            _keys_add(custom_keys, custom)
        else:
            custom = None
        if demographics is not None and demographics != demographics_before:
            demographics_before = demographics
            _keys_add(demographics_keys, demographics)
        else:
            demographics = None
        batch.append(
            (
                *(record[:_STATE_START] if record.starts_call else _CONTINUING),
                record.call_status,
                general,
                custom,
                demographics,
                record.observed_at,
            )
        )
        if len(batch) == _BATCH:
            _batch_write(file, batch)
            batch.clear()
    if batch:
        _batch_write(file, batch)
    return keys


def _keys_add(keys: set[str], text: str) -> None:
    keys.update(json_object(text))


def records_unspool(*, file: IO[bytes]) -> Iterator[ExportRecord]:
    """The records `records_spool` wrote to `file`, in their order."""
    file.seek(0)
    while header := file.read(_LENGTH.size):
        (length,) = _LENGTH.unpack(header)
        # marshal reads only what records_spool wrote, to a file private to this export.
        yield from map(ExportRecord._make, marshal.loads(file.read(length)))  # noqa: S302
