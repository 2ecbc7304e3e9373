"""The live-call population: churn over a manual clock, determinism, realism, test hooks."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from calls.sandbox import REMOVE, ManualClock, Population
from calls.sandbox.fakeprofile import DOCUMENTED_SOURCES, ECP_KEYS, ROUTING_WEBHOOK_SOURCE

TXID = re.compile(r"^[0-9A-Z-]{1,32}$")
SLIM_KEYS = {
    "transaction_id",
    "call_record_id",
    "call_status",
    "calling_phone_number",
    "destination_phone_number",
    "called_phone_number",
    "bridge_start_time",
    "phone_type",
}


def population(seed: int = 7, **kwargs: Any) -> Population:
    pop = Population(seed, ManualClock(), **kwargs)
    pop.add_organization("1001")
    return pop


def bridge_time(call: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(call.get("bridge_start_time") or call["transfer_start_time_utc"])


def ids(calls: list[dict[str, Any]]) -> set[str]:
    return {call["transaction_id"] for call in calls}


def test_starts_mid_stream_with_the_target_number_of_calls() -> None:
    pop = population(target_live=8)
    calls = pop.live_calls("1001")
    assert 5 <= len(calls) <= 11  # transfers may add a second transaction to a call
    now = pop.now()
    assert all(bridge_time(call) <= now for call in calls)


def test_calls_end_and_new_ones_arrive_around_the_target() -> None:
    pop = population(target_live=6, min_duration=20, max_duration=60)
    first = ids(pop.live_calls("1001"))
    seen = set(first)
    for _ in range(150):  # 150 s: every first call is over, several generations have passed
        pop.advance(1)
        calls = pop.live_calls("1001")
        assert 2 <= len(calls) <= 12
        seen |= ids(calls)
    assert not first & ids(pop.live_calls("1001"))
    assert len(seen) > 3 * len(first)


def test_calls_are_ordered_most_recent_bridge_first() -> None:
    pop = population(target_live=20)
    pop.advance(30)
    times = [bridge_time(call) for call in pop.live_calls("1001")]
    assert times == sorted(times, reverse=True)


def test_routing_values_appear_a_few_seconds_after_the_bridge() -> None:
    pop = population(target_live=10, min_duration=30, max_duration=60)
    first_seen_without: dict[str, datetime] = {}
    delays = []
    for _ in range(400):
        pop.advance(0.5)
        now = pop.now()
        for call in pop.live_calls("1001"):
            txid = call["transaction_id"]
            has_score = "routing_score" in (call.get("custom_data") or {})
            if not has_score and "custom_data" in call:
                first_seen_without.setdefault(txid, now)
            elif has_score and txid in first_seen_without:
                entry = call["custom_data"]["routing_score"]
                assert entry["source"] == ROUTING_WEBHOOK_SOURCE
                delays.append((now - bridge_time(call)).total_seconds())
                del first_seen_without[txid]
    assert len(delays) >= 5
    # Bridge times have whole seconds, observation is every 0.5 s.
    assert all(1.0 <= delay <= 7.5 for delay in delays), delays


def test_lead_type_upgrades_to_hot_during_some_calls() -> None:
    pop = population(target_live=20, min_duration=60, max_duration=120)
    previous: dict[str, Any] = {}
    upgrades = 0
    for _ in range(120):
        pop.advance(2)
        for call in pop.live_calls("1001"):
            lead = (call.get("custom_data") or {}).get("lead_type")
            txid = call["transaction_id"]
            if lead and previous.get(txid) not in (None, "hot") and lead["value"] == "hot":
                upgrades += 1
            if lead:
                previous[txid] = lead["value"]
    assert upgrades >= 1


def test_same_seed_gives_the_same_calls_and_another_seed_does_not() -> None:
    def run(seed: int) -> list[list[dict[str, Any]]]:
        pop = population(seed=seed)
        snapshots = []
        for _ in range(10):
            pop.advance(13)
            snapshots.append(pop.live_calls("1001"))
        return snapshots

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_polling_cadence_does_not_change_what_is_live() -> None:
    often, rarely = population(seed=5), population(seed=5)
    for _ in range(300):
        often.advance(1)
        often.live_calls("1001")
    rarely.advance(300)
    assert often.live_calls("1001") == rarely.live_calls("1001")


def test_adding_an_organization_does_not_change_another_ones_calls() -> None:
    alone = population(seed=9)
    crowded = Population(9, ManualClock())
    crowded.add_organization("3003")
    crowded.add_organization("1001")
    assert alone.live_calls("1001") == crowded.live_calls("1001")


def collect(pop: Population, seconds: int, invoca_id: str = "1001") -> list[dict[str, Any]]:
    """Every call seen while polling every 5 s, in its last seen state."""
    calls: dict[str, dict[str, Any]] = {}
    for _ in range(seconds // 5):
        pop.advance(5)
        for call in pop.live_calls(invoca_id):
            calls[call["transaction_id"]] = call
    return list(calls.values())


@pytest.fixture(scope="module")
def many_calls() -> list[dict[str, Any]]:
    return collect(population(seed=11, target_live=60), 600)


def test_transaction_ids_are_unique_and_well_formed(many_calls: list[dict[str, Any]]) -> None:
    txids = [call["transaction_id"] for call in many_calls]
    assert len(txids) == len(set(txids)) > 200
    assert all(TXID.match(txid) for txid in txids)


def test_phone_numbers_come_in_every_documented_format(many_calls: list[dict[str, Any]]) -> None:
    numbers = {call.get("calling_phone_number") for call in many_calls}
    patterns = {
        "e164": r"^\+1\d{10}$",
        "dashed": r"^\d{3}-\d{3}-\d{4}$",
        "ten": r"^\d{10}$",
        "eleven": r"^1\d{10}$",
        "parens": r"^\(\d{3}\) \d{3}-\d{4}$",
        "international": r"^\+(?!1)\d{9,13}$",
    }
    for name, pattern in patterns.items():
        assert any(isinstance(n, str) and re.match(pattern, n) for n in numbers), name
    assert numbers & {"anonymous", "Restricted", "", "Unavailable", "0"}


def test_documented_quirks_all_occur(many_calls: list[dict[str, Any]]) -> None:
    assert any("transfer_start_time_utc" in c and "bridge_start_time" not in c for c in many_calls)
    old = next(c for c in many_calls if "transfer_start_time_utc" in c)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", old["transfer_start_time_utc"])
    assert any(isinstance(c.get("advertiser_id"), int) for c in many_calls)
    assert any(isinstance(c.get("advertiser_id"), str) for c in many_calls)
    assert any(c.get("call_status") not in (None, "bridged") for c in many_calls)
    assert sum(c.get("call_status") == "bridged" for c in many_calls) > 0.9 * len(many_calls)
    assert any("city" in c and c["city"] is None for c in many_calls)
    assert any("city" not in c for c in many_calls)
    record_ids = [c.get("call_record_id") for c in many_calls if c.get("call_record_id")]
    assert len(record_ids) > len(set(record_ids)), "some call_record_id is shared by two calls"


def test_custom_data_uses_documented_and_routing_sources(many_calls: list[dict[str, Any]]) -> None:
    sources = set()
    for call in many_calls:
        for name, entry in call["custom_data"].items():
            if name != "demographics_data":
                assert set(entry) == {"value", "source"}
                sources.add(entry["source"])
    assert ROUTING_WEBHOOK_SOURCE in sources
    assert len(sources & set(DOCUMENTED_SOURCES)) >= 10
    values = [
        e["value"]
        for c in many_calls
        for n, e in c["custom_data"].items()
        if n != "demographics_data"
    ]
    assert any(isinstance(v, bool) for v in values)
    assert any(v is None for v in values)


def test_demographics_nested_or_top_level(many_calls: list[dict[str, Any]]) -> None:
    nested = [
        c["custom_data"]["demographics_data"]
        for c in many_calls
        if "demographics_data" in c["custom_data"]
    ]
    top = [c["demographics_data"] for c in many_calls if "demographics_data" in c]
    assert nested and top
    assert {} in top
    full = [block for block in nested + top if len(block) == 25]
    assert full
    assert all(set(block) == set(ECP_KEYS) for block in full)
    assert all(isinstance(b["is_prepaid_data_append"], bool) for b in full)
    assert all(isinstance(b["has_children_data_append"], bool) for b in full)
    assert any(b["high_net_worth_data_append"] is None for b in full)
    assert any("" in b.values() for b in full)
    assert any(0 < len(block) < 25 for block in nested + top)  # partial answers


def test_slim_organization_sends_attribution_fields_only() -> None:
    pop = Population(1, ManualClock())
    pop.add_organization("2002", slim=True, target_live=10)
    calls = collect(pop, 200, "2002")
    assert calls
    assert all(set(call) <= SLIM_KEYS for call in calls)
    assert all("custom_data" not in call for call in calls)


def test_hooks_add_update_custom_and_end_a_call() -> None:
    pop = population(target_live=0)
    txid = pop.add_call(
        "1001",
        {
            "transaction_id": "HOOK-1",
            "call_status": "bridged",
            "calling_phone_number": "+13105550147",
        },
    )
    assert txid == "HOOK-1"
    (call,) = pop.live_calls("1001")
    assert call["bridge_start_time"]
    pop.update_call("1001", txid, call_status="transferring", calling_phone_number=REMOVE)
    pop.set_custom("1001", txid, "lead_type", "hot", "LookupTable")
    (call,) = pop.live_calls("1001")
    assert call["call_status"] == "transferring"
    assert "calling_phone_number" not in call
    assert call["custom_data"] == {"lead_type": {"value": "hot", "source": "LookupTable"}}
    pop.advance(10_000)
    assert ids(pop.live_calls("1001")) == {"HOOK-1"}  # hand-made calls wait for end_call
    assert pop.end_call("1001", txid) is True
    assert pop.end_call("1001", txid) is False
    assert pop.live_calls("1001") == []


def test_added_call_without_id_gets_one_and_can_end_by_itself() -> None:
    pop = population(target_live=0)
    txid = pop.add_call("1001", {}, duration=5)
    assert TXID.match(txid)
    pop.advance(4.9)
    assert ids(pop.live_calls("1001")) == {txid}
    pop.advance(0.2)
    assert pop.live_calls("1001") == []


def test_live_calls_are_copies() -> None:
    pop = population(target_live=0)
    txid = pop.add_call("1001", {"custom_data": {}})
    pop.live_calls("1001")[0]["custom_data"]["x"] = 1
    assert pop.live_calls("1001")[0]["custom_data"] == {}
    with pytest.raises(ValueError, match="already live"):
        pop.add_call("1001", {"transaction_id": txid})


def test_unknown_organization_or_call_raises_key_error() -> None:
    pop = population(target_live=0)
    with pytest.raises(KeyError):
        pop.live_calls("9999")
    with pytest.raises(KeyError):
        pop.update_call("1001", "NOPE", call_status="x")


def test_advance_needs_a_manual_clock() -> None:
    pop = Population(0)
    with pytest.raises(TypeError):
        pop.advance(1)
