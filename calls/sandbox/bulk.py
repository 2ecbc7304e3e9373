"""Large deterministic payloads for benchmarks: no clock, no server, just dicts.

`bulk_payload(5000)` serialises to about 11 MB (about 2.2 kB per call): every call carries the
full general fields, 10 custom fields and a 25-key ECP block, the heaviest documented shape.
"""

from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta, timezone
from typing import Any

from calls.sandbox import fakedata as fd
from calls.sandbox import fakeprofile as fp

# Fixed so that the same seed gives byte-identical JSON on every run.
_NEWEST_BRIDGE = datetime(2026, 11, 23, 12, 0, 0, tzinfo=timezone(timedelta(hours=-5)))
_BULK_CUSTOM_FIELDS = 10
# General fields left out of bulk calls to keep them near the 2.2 kB a call that the benchmarks
# are sized for; the live population sends all of them.
_BULK_SKIPPED_FIELDS = frozenset(
    {
        "advertiser_id_from_network",
        "advertiser_campaign_id_from_network",
        "affiliate_id_from_network",
        "affiliate_campaign_id_from_network",
        "affiliate_commissions_ranking",
        "affiliate_conversion_rate_ranking",
        "affiliate_volume_ranking",
        "keypress_1",
        "keypress_2",
        "keypress_3",
        "keypress_4",
        "qualified_regions",
        "verified_zip_code",
        "advertiser_campaign_country",
        "promo_number_description",
        "repeat_calling_phone_number",
        "keypresses",
        "source",
    }
)


def _bulk_call(rng: random.Random, transaction_id: str, bridged_at: datetime) -> dict[str, Any]:
    place = fd.PLACES[rng.randrange(len(fd.PLACES))]
    call: dict[str, Any] = {
        "transaction_id": transaction_id,
        "call_record_id": fd.new_call_record_id(rng),
        "call_status": "bridged",
        "calling_phone_number": fd.format_us_number(rng, fd.fictional_local_number(rng, place[3])),
        "destination_phone_number": f"+1888555{rng.randrange(10000):04d}",
        "bridge_start_time": bridged_at.isoformat(timespec="seconds"),
        "start_time": fd.seconds_before(bridged_at, rng, 3, 45).isoformat(timespec="seconds"),
    }
    call.update(
        (key, value)
        for key, value in fd.general_fields(rng, place).items()
        if key not in _BULK_SKIPPED_FIELDS
    )
    custom = fp.custom_data(rng, _BULK_CUSTOM_FIELDS - 2)
    custom.update(
        {
            name: fp.custom_entry(value, fp.ROUTING_WEBHOOK_SOURCE)
            for name, value in list(fp.routing_values(rng).items())[:2]
        }
    )
    ecp = fp.demographics(rng, place[0], place[1], place[2])
    # Mostly nested, as in every documented example; some at top level, as the prose says.
    if rng.random() < 0.7:
        custom["demographics_data"] = ecp
    else:
        call["demographics_data"] = ecp
    call["custom_data"] = custom
    return call


def _unique_ids(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    ids: list[str] = []
    while len(ids) < count:
        txid = fd.new_transaction_id(rng)
        if txid not in taken:
            taken.add(txid)
            ids.append(txid)
    return ids


def bulk_payload(n_calls: int, seed: int = 0) -> dict[str, Any]:
    """{"current_calls": [...]} with `n_calls` heavy calls, most recent bridge first."""
    if n_calls < 0:
        raise ValueError("n_calls must be >= 0")
    rng = random.Random(f"bulk:{seed}")
    ids = _unique_ids(rng, n_calls, set())
    calls = [
        _bulk_call(rng, txid, _NEWEST_BRIDGE - timedelta(seconds=index))
        for index, txid in enumerate(ids)
    ]
    return {"current_calls": calls}


def bulk_payload_mutate(
    payload: dict[str, Any],
    changed_fraction: float = 0.05,
    new_fraction: float = 0.02,
    ended_fraction: float = 0.02,
    seed: int = 0,
) -> dict[str, Any]:
    """The next poll's answer: some calls ended, some changed, some new ones on top.

    Fractions are of the input's call count. The input is not modified; calls that did not
    change are the same dict objects in the result (treat both payloads as read-only).
    """
    for name, fraction in (
        ("changed_fraction", changed_fraction),
        ("new_fraction", new_fraction),
        ("ended_fraction", ended_fraction),
    ):
        if not 0 <= fraction <= 1:
            raise ValueError(f"{name} must be between 0 and 1")
    if changed_fraction + ended_fraction > 1:
        raise ValueError("changed_fraction + ended_fraction must not exceed 1")
    calls: list[dict[str, Any]] = payload["current_calls"]
    total = len(calls)
    rng = random.Random(f"mutate:{seed}:{total}")
    picked = rng.sample(
        range(total), round(total * ended_fraction) + round(total * changed_fraction)
    )
    ended = set(picked[: round(total * ended_fraction)])
    changed = set(picked[round(total * ended_fraction) :])

    survivors = []
    for index, call in enumerate(calls):
        if index in ended:
            continue
        if index in changed:
            call = _changed_copy(rng, call)
        survivors.append(call)

    taken = {str(call.get("transaction_id")) for call in calls}
    newest = _newest_bridge(calls)
    new_count = round(total * new_fraction)
    new_ids = _unique_ids(rng, new_count, taken)
    fresh = [
        _bulk_call(rng, txid, newest + timedelta(seconds=new_count - index))
        for index, txid in enumerate(new_ids)
    ]
    return {"current_calls": fresh + survivors}


def _changed_copy(rng: random.Random, call: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(call)
    custom = changed.setdefault("custom_data", {})
    roll = rng.random()
    lead = custom.get("lead_type")
    if roll < 0.4 and not (isinstance(lead, dict) and lead.get("value") == "hot"):
        custom["lead_type"] = fp.custom_entry("hot", "Api")
    elif roll < 0.8:
        old = custom.get("routing_score", {}).get("value")
        score = str(rng.randrange(0, 101))
        while score == old:
            score = str(rng.randrange(0, 101))
        custom["routing_score"] = fp.custom_entry(score, fp.ROUTING_WEBHOOK_SOURCE)
    else:
        old = custom.get("call_summary", {}).get("value")
        summary = old
        while summary == old:
            summary = (
                f"{fp.AI_SUMMARIES[rng.randrange(len(fp.AI_SUMMARIES))]} #{rng.randrange(1000)}"
            )
        custom["call_summary"] = fp.custom_entry(summary, "AI")
    return changed


def _newest_bridge(calls: list[dict[str, Any]]) -> datetime:
    newest = _NEWEST_BRIDGE
    for call in calls[:50]:  # sorted newest first; a few suffice even if some lack the field
        value = call.get("bridge_start_time") if isinstance(call, dict) else None
        if isinstance(value, str):
            try:
                newest = max(newest, datetime.fromisoformat(value))
            except ValueError:
                continue
    return newest
