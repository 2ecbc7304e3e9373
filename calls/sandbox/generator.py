"""Builds one live call: its payload as the API would show it at the bridge, plus the
custom-data changes that will happen to it later (routing webhook answers, lead upgrades)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from calls.sandbox import fakedata as fd
from calls.sandbox import fakeprofile as fp


@dataclass(frozen=True)
class LaterChange:
    """A custom_data value that appears or changes `after_seconds` past the bridge."""

    after_seconds: float
    name: str
    value: Any
    source: str


@dataclass
class GeneratedCall:
    payload: dict[str, Any]
    duration: float
    later_changes: list[LaterChange] = field(default_factory=list)
    # When set, a second transaction of the same call (a transfer) bridges this much later.
    sibling_after: float | None = None


def build_call(
    rng: random.Random,
    *,
    transaction_id: str,
    call_record_id: str,
    bridged_at: datetime,
    tz: timezone,
    slim: bool,
    duration: float,
) -> GeneratedCall:
    place = fd.PLACES[rng.randrange(len(fd.PLACES))]
    started_at = fd.seconds_before(bridged_at, rng, 3, 45)
    roll = rng.random()
    status = "bridged" if roll > 0.03 else fd.UNUSUAL_STATUSES[rng.randrange(3)]
    payload: dict[str, Any] = {
        "transaction_id": transaction_id,
        "call_record_id": call_record_id,
        "call_status": status,
        "calling_phone_number": fd.caller_number(rng, place[3]),
        "destination_phone_number": fd.destination_number(rng),
    }
    if slim:
        payload["called_phone_number"] = f"+1855717{rng.randrange(10000):04d}"
        payload["bridge_start_time"] = fd.format_local_time(bridged_at, tz)
        payload["phone_type"] = ("Mobile", "Landline", "")[rng.randrange(3)]
        return GeneratedCall(payload=payload, duration=duration)

    if rng.random() < 0.12:  # the early-draft names, in UTC
        payload["transfer_start_time_utc"] = fd.format_old_utc_time(bridged_at)
        payload["call_start_time_utc"] = fd.format_old_utc_time(started_at)
    else:
        payload["bridge_start_time"] = fd.format_local_time(bridged_at, tz)
        payload["start_time"] = fd.format_local_time(started_at, tz)
    payload.update(fd.general_fields(rng, place))
    if rng.random() < 0.2:
        fd.numbers_as_json_numbers(payload)
    if rng.random() < 0.5:  # about half the calls have every field filled in
        fd.punch_gaps(rng, payload)

    custom = fp.custom_data(rng, rng.randrange(3, 9))
    _attach_demographics(rng, payload, custom, place)
    payload["custom_data"] = custom
    later = _later_changes(rng, custom, duration)
    sibling_after = rng.uniform(3, 20) if rng.random() < 0.1 and duration > 25 else None
    return GeneratedCall(payload, duration, later, sibling_after)


def _attach_demographics(
    rng: random.Random,
    payload: dict[str, Any],
    custom: dict[str, Any],
    place: tuple[str, str, str, str, str],
) -> None:
    roll = rng.random()
    if roll < 0.05:
        payload["demographics_data"] = {}  # ECP enabled, nothing found
        return
    if roll > 0.50:
        return
    block = fp.demographics(rng, place[0], place[1], place[2])
    if rng.random() < 0.15:  # partial answers, as in the second documented example
        keep = set(rng.sample(fp.ECP_KEYS, rng.randrange(2, 8)))
        block = {key: value for key, value in block.items() if key in keep}
    # Every documented example nests it in custom_data; the prose says top level.
    if rng.random() < 0.6:
        custom["demographics_data"] = block
    else:
        payload["demographics_data"] = block


def _later_changes(
    rng: random.Random, custom: dict[str, Any], duration: float
) -> list[LaterChange]:
    changes = []
    if rng.random() < 0.6:
        delay = rng.uniform(2.0, 6.0)
        for name, value in fp.routing_values(rng).items():
            changes.append(LaterChange(delay, name, value, fp.ROUTING_WEBHOOK_SOURCE))
    lead = custom.get("lead_type")
    if lead and lead["value"] != "hot" and rng.random() < 0.35:
        changes.append(
            LaterChange(rng.uniform(8, max(9.0, duration * 0.8)), "lead_type", "hot", "Api")
        )
    if rng.random() < 0.2:
        summary = fp.AI_SUMMARIES[rng.randrange(len(fp.AI_SUMMARIES))]
        changes.append(
            LaterChange(rng.uniform(15, max(16.0, duration * 0.9)), "call_summary", summary, "AI")
        )
    return changes
