"""Benchmark payloads: size, determinism and the mutation fractions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from calls.sandbox import bulk_payload, bulk_payload_mutate
from calls.sandbox.fakeprofile import ECP_KEYS


def txids(payload: dict[str, Any]) -> list[str]:
    return [call["transaction_id"] for call in payload["current_calls"]]


@pytest.fixture(scope="module")
def big() -> dict[str, Any]:
    return bulk_payload(5000, seed=1)


def test_five_thousand_calls_weigh_about_eleven_megabytes(big: dict[str, Any]) -> None:
    compact = len(json.dumps(big, separators=(",", ":")).encode())
    spaced = len(json.dumps(big).encode())
    assert len(big["current_calls"]) == 5000
    assert 10_500_000 <= compact <= 12_500_000
    assert 2_100 <= compact / 5000 <= 2_500
    assert spaced <= 13_000_000


def test_every_bulk_call_is_heavy(big: dict[str, Any]) -> None:
    for call in big["current_calls"][:200]:
        custom = call["custom_data"]
        ecp = custom.get("demographics_data") or call.get("demographics_data")
        assert len([name for name in custom if name != "demographics_data"]) == 10
        assert set(ecp) == set(ECP_KEYS)


def test_bulk_payload_is_deterministic_for_a_seed() -> None:
    assert bulk_payload(300, seed=4) == bulk_payload(300, seed=4)
    assert txids(bulk_payload(300, seed=4)) != txids(bulk_payload(300, seed=5))
    assert len(set(txids(bulk_payload(300, seed=4)))) == 300


def test_bulk_calls_are_most_recent_first() -> None:
    times = [call["bridge_start_time"] for call in bulk_payload(50)["current_calls"]]
    assert times == sorted(times, reverse=True)


def test_mutate_changes_adds_and_removes_the_requested_fractions(big: dict[str, Any]) -> None:
    before = {call["transaction_id"]: call for call in big["current_calls"]}
    snapshot = json.dumps(big)
    after = bulk_payload_mutate(
        big, changed_fraction=0.1, new_fraction=0.05, ended_fraction=0.02, seed=3
    )
    assert json.dumps(big) == snapshot, "the input payload must not change"
    after_ids = txids(after)
    assert len(after_ids) == len(set(after_ids))
    new = [txid for txid in after_ids if txid not in before]
    ended = [txid for txid in before if txid not in set(after_ids)]
    changed = [
        call
        for call in after["current_calls"]
        if call["transaction_id"] in before and call != before[call["transaction_id"]]
    ]
    assert len(new) == 250
    assert len(ended) == 100
    assert len(changed) == 500
    assert after_ids[:250] == new, "new calls are the most recent ones"


def test_mutate_is_deterministic_and_chains() -> None:
    base = bulk_payload(400, seed=2)
    assert bulk_payload_mutate(base, 0.1, 0.1, 0.1, seed=8) == bulk_payload_mutate(
        base, 0.1, 0.1, 0.1, seed=8
    )
    second = bulk_payload_mutate(bulk_payload_mutate(base, 0.1, 0.1, 0.1, 1), 0.1, 0.1, 0.1, 2)
    assert len(second["current_calls"]) == 400
    assert len(set(txids(second))) == 400


@pytest.mark.parametrize(("changed", "new", "ended"), [(-0.1, 0, 0), (0, 1.5, 0), (0.6, 0, 0.6)])
def test_mutate_rejects_impossible_fractions(changed: float, new: float, ended: float) -> None:
    with pytest.raises(ValueError):
        bulk_payload_mutate(bulk_payload(10), changed, new, ended)
