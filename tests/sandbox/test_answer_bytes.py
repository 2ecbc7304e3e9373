"""The calls answer is built from each call's JSON kept from the previous answer: every body must
be byte for byte the encoding of the live calls as they are now, whatever changed in between."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from calls.sandbox import REMOVE, ManualClock, SandboxFeed
from calls.sandbox.responses import current_calls, current_calls_encoded, to_json

from . import (
    ADVERTISER_ID,
    NETWORK_ID,
    get_advertiser_calls,
    get_calls,
    two_org_feed,
)

# Clock steps between answers: none, less than a routing answer's delay, a poll interval,
# and long enough for most calls to have ended.
STEPS = (0, 0, 1.5, 5, 5, 0, 30, 5, 240, 5, 0.2, 5)


@pytest.fixture
def busy_feed() -> Iterator[SandboxFeed]:
    """A seeded feed of 50 calls on the Network org, on a clock moved by hand."""
    feed = two_org_feed(seed=3, clock=ManualClock(), target_live=50)
    yield feed
    feed.stop()


def fresh_body(calls: list[dict[str, Any]]) -> bytes:
    """The answer encoded from scratch, with nothing kept from an earlier answer."""
    return to_json({"current_calls": calls})


def encoded_by_id(body: bytes) -> dict[str, bytes]:
    """Each call's JSON in an answer, by transaction id."""
    return {call["transaction_id"]: to_json(call) for call in json.loads(body)["current_calls"]}


def change_a_call_already_sent(feed: SandboxFeed, step: int) -> str:
    """Change, through a test hook, a call an earlier answer has carried; its transaction id."""
    first, second, *_, last = [call["transaction_id"] for call in feed.live_calls(NETWORK_ID)]
    if step % 3 == 0:
        feed.set_custom(NETWORK_ID, first, "agent_notes", f"note {step} — café 📞")
        return first
    if step % 3 == 1:
        feed.update_call(NETWORK_ID, second, call_status="on_hold", city=REMOVE)
        return second
    # A new bridge time also moves the call to the head of the list.
    feed.update_call(NETWORK_ID, last, bridge_start_time=feed.now().isoformat())
    return last


def test_every_answer_is_the_fresh_encoding_of_the_live_calls(busy_feed: SandboxFeed) -> None:
    # Calls answered again with new content (each time, what was kept had to be dropped).
    changed_by_population = changed_by_hooks = 0
    previous: dict[str, bytes] = {}
    hooked: set[str] = set()
    for step, seconds in enumerate(STEPS):
        busy_feed.advance(seconds)
        response = get_calls(busy_feed)
        assert response.status_code == 200
        assert response.content == fresh_body(busy_feed.live_calls(NETWORK_ID))
        advertiser = get_advertiser_calls(busy_feed)
        assert advertiser.content == fresh_body(busy_feed.live_calls(ADVERTISER_ID))

        now = encoded_by_id(response.content)
        changed = {txid for txid in now.keys() & previous.keys() if now[txid] != previous[txid]}
        changed_by_hooks += len(changed & hooked)
        changed_by_population += len(changed - hooked)
        previous, hooked = now, set()
        if step % 2:
            hooked.add(change_a_call_already_sent(busy_feed, step))
    # Both kinds of change happened (the population's own: routing answers, lead upgrades):
    # without them this test would prove nothing about a stale answer.
    assert changed_by_population > 0
    assert changed_by_hooks > 0


def test_a_filtered_answer_is_the_fresh_encoding_of_the_calls_it_keeps(
    busy_feed: SandboxFeed,
) -> None:
    get_calls(busy_feed)  # every call encoded once
    live = busy_feed.live_calls(NETWORK_ID)
    target = live[len(live) // 2]
    busy_feed.set_custom(NETWORK_ID, target["transaction_id"], "lead_type", "hot", "Api")
    busy_feed.advance(5)

    response = get_calls(busy_feed, transaction_id=target["transaction_id"])

    kept = [
        call
        for call in busy_feed.live_calls(NETWORK_ID)
        if call["transaction_id"] == target["transaction_id"]
    ]
    assert kept and kept[0]["custom_data"]["lead_type"]["value"] == "hot"
    assert response.content == fresh_body(kept)


@pytest.mark.parametrize(
    "calls",
    [
        [],
        [{}],
        [{"transaction_id": "A", "n": 1, "f": 2.5, "b": True, "none": None}],
        [
            {"city": "مرحبا \u202eevil\u202c", "emoji": "📞🔥", "ctl": "a\nb\t\u0000"},
            {"custom_data": {"x": {"value": [1, {"y": "é"}], "source": "Api"}}},
        ],
    ],
)
def test_an_answer_from_encoded_calls_matches_the_one_encoded_whole(calls: list[Any]) -> None:
    whole = current_calls(calls)
    assert current_calls_encoded([to_json(call) for call in calls]) == whole
