"""CSV export of many snapshots against a bare csv.writer writing the same rows from memory.

Goals: the export's rows/s at least 25 % of the bare writer's; peak memory flat (Python heap
peak, tracemalloc, at a tenth of the size and at full size within 20 MB).

    .venv/bin/python bench/export.py [--postgres] [--snapshots 100000] [--vary]

By default a call's snapshots repeat its JSON exactly. --vary makes each snapshot what a
stored snapshot usually is, a change: another status and another value of one custom field
(general and demographics repeat).
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from harness import (
    bench_arguments,
    django_environment,
    interleaved_medians,
    share_row,
    table_print,
    verdict,
)

RATE_GOAL = 0.25
MEMORY_GOAL_BYTES = 20 * 1024 * 1024
SNAPSHOTS_PER_CALL = 10
# The bare writer's rows/s is measured on up to this many of the export's rows, held in memory.
BARE_ROWS = 10_000
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--snapshots", type=int, default=100_000)
    parser.add_argument(
        "--vary", action="store_true", help="each snapshot changes its status and a custom field"
    )


class _Discard:
    def write(self, line: str) -> int:
        return len(line)


_STATUSES = ("ringing", "bridged", "on_hold", "transferred")


def _version(custom_data: dict[str, Any], version: int) -> dict[str, Any]:
    """The custom data with its first field's value changed, as of snapshot `version`."""
    changed = dict(custom_data)
    for name, entry in changed.items():
        changed[name] = {**entry, "value": f"v{version}"} if type(entry) is dict else version
        break
    return changed


def _populate(*, name: str, snapshots: int, vary: bool = False) -> Any:
    """An organization whose calls have `snapshots` snapshots in all (SNAPSHOTS_PER_CALL each),
    with the sandbox's realistic payloads; `vary`: each snapshot differs from the one before."""
    from calls.invoca import current_calls_parse
    from calls.models import Call, CallSnapshot, Organization
    from calls.sandbox.population import bulk_payload

    organization = Organization.objects.create(
        name=name, organization_type="Network", invoca_id=str(len(name) + snapshots)
    )
    calls = max(1, snapshots // SNAPSHOTS_PER_CALL)
    parsed = current_calls_parse(bulk_payload(calls, seed=len(name))).calls
    made = 0
    for chunk_start in range(0, len(parsed), 1000):
        chunk = parsed[chunk_start : chunk_start + 1000]
        rows = Call.objects.bulk_create(
            Call(
                organization=organization,
                transaction_id=call.transaction_id,
                call_status=call.call_status,
                calling_phone_number=call.calling_phone.best[:40],
                calling_phone_number_raw=call.calling_phone.raw,
                bridge_start_time=call.bridge_start_time,
                general=dict(call.general),
                custom_data=call.custom_data_json(),
                demographics=dict(call.demographics),
                content_hash=call.content_hash,
                first_seen_at=T0,
                last_seen_at=T0,
                ended_at=T0 + timedelta(minutes=5),
            )
            for call in chunk
        )
        versions = []
        for row, call in zip(rows, chunk, strict=True):
            for version in range(SNAPSHOTS_PER_CALL):
                if made >= snapshots:
                    break
                made += 1
                versions.append(
                    CallSnapshot(
                        call=row,
                        observed_at=T0 + timedelta(seconds=5 * version),
                        content_hash=f"{version:032d}",
                        call_status=_STATUSES[version % 4] if vary else call.call_status,
                        general=row.general,
                        custom_data=_version(row.custom_data, version) if vary else row.custom_data,
                        demographics=row.demographics,
                        payload=json.dumps(dict(call.payload)),
                    )
                )
        CallSnapshot.objects.bulk_create(versions, batch_size=2000)
    return organization


def _export_text(organization: Any) -> Iterator[str]:
    from calls.export.rows import export_lines
    from calls.models import Call
    from calls.selectors.export import export_source
    from calls.selectors.filters import ExportFilters

    source = export_source(
        calls=Call.objects.filter(organization=organization),
        filters=ExportFilters(snapshots=True),
    )
    return export_lines(source=source, now=T0 + timedelta(hours=1))


def _export_rows(organization: Any) -> int:
    return sum(piece.count("\r\n") for piece in _export_text(organization)) - 1


def _peak_bytes(organization: Any) -> int:
    tracemalloc.start()
    try:
        for _ in _export_text(organization):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    arguments = bench_arguments(__doc__ or "", _options)
    size = 200 if arguments.tiny else arguments.snapshots
    with django_environment(postgres=arguments.postgres) as environment:
        vary = arguments.vary
        small = _populate(name="Export small", snapshots=max(1, size // 10), vary=vary)
        large = _populate(name="Export large", snapshots=size, vary=vary)

        # The same rows the export writes, parsed back into memory once.
        text = "".join(itertools.islice(_export_text(large), 1 + BARE_ROWS // 500))
        in_memory = list(csv.reader(io.StringIO(text, newline="")))[1 : BARE_ROWS + 1]

        def bare() -> None:
            csv.writer(_Discard(), lineterminator="\r\n").writerows(in_memory)

        rows = _export_rows(large)
        medians = interleaved_medians(
            {"export": lambda: _export_rows(large), "bare": bare}, runs=arguments.runs
        )
        export_rate = rows / medians["export"]
        bare_rate = len(in_memory) / medians["bare"]
        small_peak, large_peak = _peak_bytes(small), _peak_bytes(large)

    tiny = arguments.tiny
    growth = large_peak - small_peak
    table_print(
        f"CSV export of {rows:,} {'changing ' if arguments.vary else ''}snapshots, "
        f"{environment.database}, median of {arguments.runs}",
        ["figure", "ratio", "goal", "holds", "export", "yardstick"],
        [
            share_row(
                "export rows/s ÷ bare csv.writer rows/s",
                export_rate / bare_rate,
                RATE_GOAL,
                measured=f"{export_rate:,.0f} rows/s ({medians['export']:.2f} s)",
                yardstick=f"{bare_rate:,.0f} rows/s",
                tiny=tiny,
            ),
            [
                f"peak heap {rows:,} rows minus {max(1, size // 10):,} rows",
                f"{growth / 2**20:+.1f} MB",
                "≤ 20 MB",
                verdict(growth <= MEMORY_GOAL_BYTES, tiny=tiny),
                f"{large_peak / 2**20:.1f} MB",
                f"{small_peak / 2**20:.1f} MB",
            ],
        ],
    )


if __name__ == "__main__":
    main()
