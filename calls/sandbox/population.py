"""Seeded, clock-driven population of live calls, one pool per organization.

Time only moves when the clock says so; every pending happening (arrival, end, a custom value
appearing) sits in a per-organization event queue and is applied, in time order, whenever the
population is looked at. Every random draw happens while applying events in that order, so a seed
and a sequence of clock readings give the same calls whatever the polling cadence.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import operator
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from calls.sandbox import fakedata as fd
from calls.sandbox import fakeprofile as fp
from calls.sandbox.bulk import bulk_payload, bulk_payload_mutate
from calls.sandbox.clock import Clock, ManualClock, real_clock
from calls.sandbox.generator import build_call
from calls.sandbox.responses import to_json

__all__ = ["REMOVE", "Population", "bulk_payload", "bulk_payload_mutate"]

# Pass as a value to `update_call` to delete the key instead of setting it.
REMOVE: Any = object()

_USER_OFFSETS_HOURS = (-8, -7, -6, -5, 0)
# Latest bridge first (with reverse=True); among equal bridge times, the later added first.
_API_ORDER = operator.attrgetter("bridged_at", "order")


@dataclass
class _LiveCall:
    payload: dict[str, Any]
    bridged_at: datetime
    order: int
    counts_towards_target: bool  # generated calls do, hand-made ones (add_call) do not
    is_transfer: bool = False  # a second transaction of a live call; never replaced
    # The payload's JSON as the feed last sent it; None until then and after every change.
    encoded: bytes | None = None

    def changed(self) -> None:
        self.encoded = None


@dataclass
class _Organization:
    invoca_id: str
    slim: bool
    target_live: int
    rng: random.Random
    tz: timezone
    calls: dict[str, _LiveCall] = field(default_factory=dict)
    # (when, sequence, kind, args); the sequence keeps ties in insertion order.
    events: list[tuple[datetime, int, str, tuple[Any, ...]]] = field(default_factory=list)
    pending_arrivals: int = 0


class Population:
    def __init__(
        self,
        seed: int = 0,
        clock: Clock | None = None,
        *,
        min_duration: float = 20.0,
        max_duration: float = 240.0,
        target_live: int = 8,
    ) -> None:
        if not 0 < min_duration <= max_duration:
            raise ValueError("need 0 < min_duration <= max_duration")
        if target_live < 0:
            raise ValueError("target_live must be >= 0")
        self.seed = seed
        self.clock: Clock = clock or real_clock
        self.min_duration = float(min_duration)
        self.max_duration = float(max_duration)
        self.target_live = target_live
        self._orgs: dict[str, _Organization] = {}
        self._issued_ids: set[str] = set()
        self._sequence = itertools.count()
        self._manual_ids = itertools.count(1)
        self._lock = threading.RLock()

    # ----- organizations -------------------------------------------------------------------

    def add_organization(
        self, invoca_id: str, *, slim: bool = False, target_live: int | None = None
    ) -> None:
        invoca_id = str(invoca_id)
        with self._lock:
            if invoca_id in self._orgs:
                raise ValueError(f"organization {invoca_id} already exists")
            # One generator per organization: adding an org never changes another's calls.
            rng = random.Random(f"{self.seed}:{invoca_id}")
            offset = _USER_OFFSETS_HOURS[rng.randrange(len(_USER_OFFSETS_HOURS))]
            org = _Organization(
                invoca_id=invoca_id,
                slim=slim,
                target_live=self.target_live if target_live is None else target_live,
                rng=rng,
                tz=timezone(timedelta(hours=offset)),
            )
            self._orgs[invoca_id] = org
            now = self.clock()
            # Start mid-stream: calls already in progress, at various points of their lives.
            for _ in range(org.target_live):
                duration = rng.uniform(self.min_duration, self.max_duration)
                elapsed = rng.uniform(0, duration)
                self._spawn(org, now - timedelta(seconds=elapsed), duration=duration)
            self._catch_up(org)

    def organizations(self) -> list[str]:
        with self._lock:
            return list(self._orgs)

    # ----- reading ---------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock()

    def live_calls(self, invoca_id: str) -> list[dict[str, Any]]:
        """Copies of the live calls, most recent bridge first, as the API orders them."""
        with self._lock:
            return copy.deepcopy([call.payload for call in self._ordered(invoca_id)])

    def live_calls_json(
        self, invoca_id: str, keep: Callable[[dict[str, Any]], bool] | None = None
    ) -> list[bytes]:
        """The JSON (`to_json`) of each live call `keep` lets through (all of them when it is
        None), in the API's order.

        A call is encoded again only once it has changed: between two polls a few seconds
        apart most calls have not, and encoding every call of every answer would be most of
        the feed's cost per request."""
        with self._lock:
            encoded = []
            for call in self._ordered(invoca_id):
                if keep is None or keep(call.payload):
                    if call.encoded is None:
                        call.encoded = to_json(call.payload)
                    encoded.append(call.encoded)
            return encoded

    def live_count(self, invoca_id: str) -> int:
        with self._lock:
            org = self._org(invoca_id)
            self._catch_up(org)
            return len(org.calls)

    # ----- test hooks ------------------------------------------------------------------------

    def add_call(
        self, invoca_id: str, payload: dict[str, Any], *, duration: float | None = None
    ) -> str:
        """Put a hand-made call on the line; it stays until `end_call` unless given a duration.

        A missing transaction_id or bridge time is filled in; nothing else is added, so tests
        can send exactly the shape they want to check.
        """
        with self._lock:
            org = self._org(invoca_id)
            self._catch_up(org)
            call = copy.deepcopy(payload)
            txid = call.get("transaction_id")
            if txid is None:
                txid = f"SBX-MANUAL-{next(self._manual_ids):08d}"
                call["transaction_id"] = txid
            txid = str(txid)
            if txid in org.calls:
                raise ValueError(f"call {txid} is already live")
            now = self.clock()
            bridged_at = _bridge_time_of(call)
            if bridged_at is None:
                bridged_at = now
                if "transfer_start_time_utc" not in call:
                    call["bridge_start_time"] = fd.format_local_time(now, org.tz)
            self._issued_ids.add(txid)
            org.calls[txid] = _LiveCall(
                call, bridged_at, next(self._sequence), counts_towards_target=False
            )
            if duration is not None:
                self._schedule(org, now + timedelta(seconds=duration), "end", (txid, False))
            return txid

    def update_call(self, invoca_id: str, transaction_id: str, **fields: Any) -> None:
        """Set top-level fields of a live call; a value of `REMOVE` deletes the key."""
        with self._lock:
            call = self._live_call(invoca_id, transaction_id)
            for key, value in fields.items():
                if value is REMOVE:
                    call.payload.pop(key, None)
                else:
                    call.payload[key] = copy.deepcopy(value)
            call.bridged_at = _bridge_time_of(call.payload) or call.bridged_at
            call.changed()

    def set_custom(
        self, invoca_id: str, transaction_id: str, name: str, value: Any, source: str = "Api"
    ) -> None:
        with self._lock:
            call = self._live_call(invoca_id, transaction_id)
            custom = call.payload.get("custom_data")
            if not isinstance(custom, dict):
                custom = call.payload["custom_data"] = {}
            custom[name] = fp.custom_entry(value, source)
            call.changed()

    def end_call(self, invoca_id: str, transaction_id: str) -> bool:
        with self._lock:
            org = self._org(invoca_id)
            self._catch_up(org)
            return org.calls.pop(str(transaction_id), None) is not None

    def advance(self, seconds: float) -> datetime:
        """Move a ManualClock forward (the population catches up lazily on the next read)."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs a ManualClock")
        return self.clock.advance(seconds)

    # ----- internals -------------------------------------------------------------------------

    def _ordered(self, invoca_id: str) -> list[_LiveCall]:
        org = self._org(invoca_id)
        self._catch_up(org)
        return sorted(org.calls.values(), key=_API_ORDER, reverse=True)

    def _org(self, invoca_id: str) -> _Organization:
        try:
            return self._orgs[str(invoca_id)]
        except KeyError:
            raise KeyError(f"unknown organization {invoca_id}") from None

    def _live_call(self, invoca_id: str, transaction_id: str) -> _LiveCall:
        org = self._org(invoca_id)
        self._catch_up(org)
        try:
            return org.calls[str(transaction_id)]
        except KeyError:
            raise KeyError(f"call {transaction_id} is not live") from None

    def _schedule(
        self, org: _Organization, when: datetime, kind: str, args: tuple[Any, ...] = ()
    ) -> None:
        heapq.heappush(org.events, (when, next(self._sequence), kind, args))

    def _catch_up(self, org: _Organization) -> None:
        now = self.clock()
        while org.events and org.events[0][0] <= now:
            when, _, kind, args = heapq.heappop(org.events)
            if kind == "arrive":
                org.pending_arrivals -= 1
                self._spawn(org, when)
            elif kind == "end":
                self._on_end(org, when, *args)
            elif kind == "change":
                self._on_change(org, *args)
            elif kind == "sibling":
                parent = org.calls.get(args[0])
                if parent is not None:
                    self._spawn(org, when, sibling_of=parent.payload)

    def _new_transaction_id(self, rng: random.Random) -> str:
        while True:
            txid = fd.new_transaction_id(rng)
            if txid not in self._issued_ids:
                self._issued_ids.add(txid)
                return txid

    def _spawn(
        self,
        org: _Organization,
        bridged_at: datetime,
        *,
        duration: float | None = None,
        sibling_of: dict[str, Any] | None = None,
    ) -> None:
        rng = org.rng
        if duration is None:
            duration = rng.uniform(self.min_duration, self.max_duration)
        txid = self._new_transaction_id(rng)
        record_id = fd.new_call_record_id(rng)
        if sibling_of is not None:
            # A transfer: a second transaction of the same phone call.
            record_id = sibling_of.get("call_record_id") or record_id
        generated = build_call(
            rng,
            transaction_id=txid,
            call_record_id=record_id,
            bridged_at=bridged_at,
            tz=org.tz,
            slim=org.slim,
            duration=duration,
        )
        if sibling_of is not None and "calling_phone_number" in sibling_of:
            generated.payload["calling_phone_number"] = sibling_of["calling_phone_number"]
        is_regular = sibling_of is None
        org.calls[txid] = _LiveCall(
            generated.payload,
            bridged_at,
            next(self._sequence),
            counts_towards_target=True,
            is_transfer=not is_regular,
        )
        self._schedule(org, bridged_at + timedelta(seconds=duration), "end", (txid, is_regular))
        for change in generated.later_changes:
            if change.after_seconds < duration:
                when = bridged_at + timedelta(seconds=change.after_seconds)
                self._schedule(
                    org, when, "change", (txid, change.name, change.value, change.source)
                )
        if is_regular and generated.sibling_after is not None:
            self._schedule(
                org, bridged_at + timedelta(seconds=generated.sibling_after), "sibling", (txid,)
            )

    def _on_end(self, org: _Organization, when: datetime, txid: str, replace: bool) -> None:
        org.calls.pop(txid, None)
        if not replace:
            return
        counted = [call for call in org.calls.values() if call.counts_towards_target]
        remaining = org.pending_arrivals + len(counted)
        # Compare with the count before this end: at the target, one arrival on average.
        deficit = org.target_live - (remaining + 1)
        roll = org.rng.random()
        if deficit > 2:
            arrivals = 2
        elif deficit < -2:
            arrivals = 0
        elif deficit > 0:
            arrivals = 2 if roll < 0.3 else 1
        elif deficit < 0:
            arrivals = 0 if roll < 0.3 else 1
        else:  # some wobble around the target
            arrivals = 0 if roll < 0.15 else 2 if roll > 0.85 else 1
        regular = org.pending_arrivals + sum(1 for call in counted if not call.is_transfer)
        if regular == 0 and org.target_live > 0:
            arrivals = max(arrivals, 1)  # transfers are never replaced: keep the line alive
        mean_duration = (self.min_duration + self.max_duration) / 2
        max_gap = max(1.0, min(10.0, mean_duration / 10))
        for _ in range(arrivals):
            org.pending_arrivals += 1
            self._schedule(org, when + timedelta(seconds=org.rng.uniform(0.2, max_gap)), "arrive")

    def _on_change(self, org: _Organization, txid: str, name: str, value: Any, source: str) -> None:
        call = org.calls.get(txid)
        if call is None:
            return
        custom = call.payload.get("custom_data")
        if isinstance(custom, dict):
            custom[name] = fp.custom_entry(value, source)
            call.changed()


def _bridge_time_of(payload: dict[str, Any]) -> datetime | None:
    for key in ("bridge_start_time", "transfer_start_time_utc"):
        value = payload.get(key)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
