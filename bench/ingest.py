"""Ingest one poll, from response bytes to committed transaction, against its floor and peer.

Floor: the standard library's `json.loads` of the same bytes ("decode"), timed in the same run.
Peer: a naive per-row `update_or_create` loop over the same parsed calls.

    .venv/bin/python bench/ingest.py [--postgres] [--calls 5000] [--runs 5] [--profile]
"""

from __future__ import annotations

import argparse
import itertools
import json
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from harness import (
    bench_arguments,
    django_environment,
    interleaved_medians,
    milliseconds,
    table_print,
    timed,
    verdict,
)

UNCHANGED_GOAL = 2.0
CHANGED_GOAL = 3.0
NAIVE_GOAL = 30.0
STATEMENTS_GOAL = 10
T0 = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=5000, help="live calls per poll")
    parser.add_argument("--profile", action="store_true", help="print pyinstrument profiles")


class IngestBench:
    def __init__(self, calls: int) -> None:
        from calls.sandbox.population import bulk_payload, bulk_payload_mutate

        first = bulk_payload(calls, seed=0)
        following = bulk_payload_mutate(
            first, changed_fraction=0.10, new_fraction=0.05, ended_fraction=0.05, seed=1
        )
        self.calls = calls
        self.first = json.dumps(first).encode()
        self.following = json.dumps(following).encode()
        self._org_numbers = itertools.count(1)
        self._clock = itertools.count(1)

    def now(self) -> datetime:
        return T0 + timedelta(seconds=5 * next(self._clock))

    def organization(self) -> Any:
        from calls.models import Organization

        number = next(self._org_numbers)
        # One clean miss ends a call, so the 5 % that left the answer end in the timed poll.
        return Organization.objects.create(
            name=f"Bench {number}",
            organization_type="Network",
            invoca_id=str(number),
            clean_misses_to_end=1,
        )

    def ingest(self, organization: Any, body: bytes) -> Any:
        """What a poll does once the response bytes are in: decode, parse, write, commit,
        with the cycle collector paused until the answer is freed (as organization_poll)."""
        from calls.memory import cycle_collector_paused

        with cycle_collector_paused():
            return self._ingest(organization, body)

    def _ingest(self, organization: Any, body: bytes) -> Any:
        from calls.invoca import current_calls_read
        from calls.selectors.polling import live_calls_stored
        from calls.services import poll_result_ingest

        now = self.now()
        live = live_calls_stored(organization=organization)
        result = current_calls_read(body, known=live)
        return poll_result_ingest(
            organization=organization, result=result, started_at=now, finished_at=now, live=live
        )

    def naive_ingest(self, organization: Any, body: bytes) -> None:
        """The loop a first version would write: one update_or_create per call."""
        from django.db import transaction

        from calls.invoca.decoding import current_calls_read
        from calls.models import Call

        now = self.now()
        result = current_calls_read(body)
        with transaction.atomic():
            for call in result.calls:
                Call.objects.update_or_create(
                    organization=organization,
                    transaction_id=call.transaction_id,
                    defaults=_naive_fields(call, now),
                    create_defaults={**_naive_fields(call, now), "first_seen_at": now},
                )


def _naive_fields(call: Any, now: datetime) -> dict[str, Any]:
    return {
        "call_record_id": call.call_record_id,
        "external_unique_id": call.external_unique_id,
        "call_status": call.call_status,
        "calling_phone_number": call.calling_phone.best[:40],
        "calling_phone_number_raw": call.calling_phone.raw,
        "destination_phone_number": call.destination_phone.best[:40],
        "destination_phone_number_raw": call.destination_phone.raw,
        "called_phone_number": call.called_phone.best[:40],
        "called_phone_number_raw": call.called_phone.raw,
        "phone_type": call.phone_type,
        "bridge_start_time": call.bridge_start_time,
        "start_time": call.start_time,
        "general": dict(call.general),
        "custom_data": call.custom_data_json(),
        "demographics": dict(call.demographics),
        "content_hash": call.content_hash,
        "last_seen_at": now,
        "ended_at": None,
        "missed_polls": 0,
    }


def statements(bench: IngestBench, *, changed: bool) -> tuple[int, Any]:
    """SQL statements of one poll (nothing changed, or the 10/5/5 % mix), and its counts."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    organization = bench.organization()
    bench.ingest(organization, bench.first)
    with CaptureQueriesContext(connection) as captured:
        attempt = bench.ingest(organization, bench.following if changed else bench.first)
    return len(captured.captured_queries), attempt.counts


def main() -> None:
    arguments = bench_arguments(__doc__ or "", _options)
    calls = 50 if arguments.tiny else arguments.calls
    with django_environment(postgres=arguments.postgres) as environment:
        small, bench = IngestBench(max(1, calls // 10)), IngestBench(calls)
        runs = arguments.runs

        steady = bench.organization()
        bench.ingest(steady, bench.first)
        fresh: list[Any] = []

        def prepare() -> None:
            organization = bench.organization()
            bench.ingest(organization, bench.first)
            fresh.append(organization)
            checkpoint()

        medians = interleaved_medians(
            {
                "decode": lambda: json.loads(bench.first),
                "unchanged": lambda: bench.ingest(steady, bench.first),
                "decode following": lambda: json.loads(bench.following),
                "changed": lambda: bench.ingest(fresh[-1], bench.following),
            },
            runs=runs,
            # A periodic task checkpoints SQLite's log, off the polls (as PostgreSQL's
            # checkpointer does); its cost is shown on its own below.
            before={"unchanged": checkpoint, "changed": prepare},
        )
        decode, unchanged = medians["decode"], medians["unchanged"]
        decode_following, changed = medians["decode following"], medians["changed"]

        naive_org = bench.organization()
        bench.ingest(naive_org, bench.first)
        against_naive = interleaved_medians(
            {
                "unchanged": lambda: bench.ingest(steady, bench.first),
                "naive": lambda: bench.naive_ingest(naive_org, bench.first),
            },
            runs=min(runs, 3),
        )
        naive = against_naive["naive"]
        checkpoint_after_mix = _checkpoint_after(bench, checkpoint)

        unchanged_statements = [statements(size, changed=False)[0] for size in (small, bench)]
        changed_counts = [statements(size, changed=True) for size in (small, bench)]
        changed_statements = [count for count, _ in changed_counts]
        mix = changed_counts[-1][1]

        tiny = arguments.tiny
        unchanged_ratio, changed_ratio = unchanged / decode, changed / decode_following
        table_print(
            f"Ingest one poll of {calls:,} live calls ({len(bench.first) / 1e6:.1f} MB), "
            f"{environment.database}, median of {runs}",
            ["figure", "ratio", "goal", "holds", "time", "yardstick", "statements N/10 → N"],
            [
                [
                    "nothing changed ÷ decode",
                    f"{unchanged_ratio:.2f}x",
                    f"≤ {UNCHANGED_GOAL:g}x",
                    verdict(unchanged_ratio <= UNCHANGED_GOAL, tiny=tiny),
                    milliseconds(unchanged),
                    milliseconds(decode),
                    _statements_cell(unchanged_statements, tiny=tiny, limit=STATEMENTS_GOAL),
                ],
                [
                    "naive update_or_create ÷ nothing changed",
                    f"{naive / against_naive['unchanged']:.1f}x",
                    f"≥ {NAIVE_GOAL:g}x",
                    verdict(naive / against_naive["unchanged"] >= NAIVE_GOAL, tiny=tiny),
                    milliseconds(naive),
                    milliseconds(against_naive["unchanged"]),
                    "",
                ],
                [
                    f"{mix.changed} changed, {mix.new} new, {mix.ended} ended ÷ decode",
                    f"{changed_ratio:.2f}x",
                    f"≤ {CHANGED_GOAL:g}x",
                    verdict(changed_ratio <= CHANGED_GOAL, tiny=tiny),
                    milliseconds(changed),
                    milliseconds(decode_following),
                    _statements_cell(changed_statements, tiny=tiny, limit=None),
                ],
                [
                    "SQLite's checkpoint after the mix (a periodic task, off the poll)",
                    f"{checkpoint_after_mix / decode_following:.2f}x"
                    if environment.database == "SQLite"
                    else "(PostgreSQL's checkpointer)",
                    "(information)",
                    "",
                    milliseconds(checkpoint_after_mix),
                    milliseconds(decode_following),
                    "",
                ],
            ],
        )
        if arguments.profile:
            _profile(bench, steady)


def checkpoint() -> None:
    from calls.services import database_checkpoint

    database_checkpoint()


def _checkpoint_after(bench: IngestBench, run_checkpoint: Any) -> float:
    """What the next periodic checkpoint costs after a poll of the 10/5/5 % mix (nothing on
    PostgreSQL, whose own checkpointer does this work in the background)."""
    organization = bench.organization()
    bench.ingest(organization, bench.first)
    run_checkpoint()
    bench.ingest(organization, bench.following)
    return timed(run_checkpoint)[0]


def _statements_cell(counts: list[int], *, tiny: bool, limit: int | None) -> str:
    """Constant in N, and within the limit where the goal sets one (only the unchanged poll)."""
    constant = counts[0] == counts[-1] and (limit is None or counts[-1] <= limit)
    return f"{counts[0]} → {counts[-1]} ({verdict(constant, tiny=tiny)})"


def _profile(bench: IngestBench, steady: Any) -> None:
    from pyinstrument import Profiler

    mixed = bench.organization()
    bench.ingest(mixed, bench.first)
    for title, organization, body in (
        ("nothing changed", steady, bench.first),
        ("10/5/5 % mix", mixed, bench.following),
    ):
        profiler = Profiler(interval=0.0005)
        profiler.start()
        seconds = timed(partial(bench.ingest, organization, body))[0]
        profiler.stop()
        print(f"\nProfile: {title} ({milliseconds(seconds)})")
        print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
