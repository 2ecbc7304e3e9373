"""Decoding an answer from its bytes: the same values as json.loads, each call's text kept, and
calls sent again exactly as stored recognised without being decoded."""

from __future__ import annotations

import json
import random
from typing import NamedTuple

import pytest

from calls.invoca import BadResponse, KnownCall, current_calls_read
from calls.invoca.decoding import body_decode
from calls.invoca.jsontext import DECODER, KnownText, text_digest
from tests.factories import call_payload


class Stored(NamedTuple):
    """What the database holds of a call's text: a KnownCall."""

    raw_hash: str
    raw_size: int
    content_hash: str


BODIES = [
    '{"current_calls": []}',
    '{"current_calls":[{"transaction_id":"A"},{"transaction_id":"B","x":[1,{"y":"},{"}]}]}',
    ' \n{ "partial_data" : true , "current_calls" : [ {"transaction_id" : "A"} ,\n'
    '{"transaction_id":"B"} ] , "errors": [{"error": "x"}] }\n',
    '{"current_calls": [{"transaction_id": "A"}], "current_calls": [{"transaction_id": "C"}]}',
    '{"current_calls": "not a list"}',
    '[{"transaction_id": "A"}]',
    '{"error": "RecordNotFound"}',
    '{"current_calls": [1, "two", null, {"transaction_id": 3.5e2}]}',
    '{"current_calls": [{"transaction_id": "A", "v": NaN, "w": 1e999}]}',
]


@pytest.mark.parametrize("text", BODIES)
def test_the_decoded_body_is_what_json_loads_gives(text):
    decoded = body_decode(text.encode(), http_status=200)
    expected = json.loads(text, parse_constant=lambda _: None)
    if "1e999" in text:
        expected["current_calls"][0]["w"] = None  # an overflowing number is no storable JSON
    assert decoded.data == expected
    calls = expected.get("current_calls") if isinstance(expected, dict) else None
    if isinstance(calls, list):  # each call's text, cut from the body, is that call
        assert decoded.call_texts is not None
        assert [DECODER.decode(text) for text in decoded.call_texts] == calls
    else:
        assert decoded.call_texts is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"current_calls": [{"transaction_id": "A"},]}', "not JSON"),
        ('{"current_calls": [{"transaction_id": "A"}] trailing', "not JSON"),
        ('{"current_calls": [{"transaction_id": "A"}', "not JSON"),
        ("", "not JSON"),
    ],
)
def test_broken_json_is_a_bad_response(text, reason):
    with pytest.raises(BadResponse, match=reason):
        body_decode(text.encode(), http_status=200)


def known_of(body: bytes) -> dict[str, KnownCall]:
    """What the database holds after this body was applied."""
    result = current_calls_read(body)
    return {
        call.transaction_id: Stored(call.raw_digest, call.raw_size, call.content_hash)
        for call in result.calls
    }


def test_calls_sent_again_unchanged_are_recognised_not_decoded():
    a, b = call_payload("A"), call_payload("B", call_status="bridged")
    first = json.dumps({"current_calls": [a, b]}).encode()
    known = known_of(first)
    b_changed = {**b, "call_status": "transferred"}
    second = json.dumps({"current_calls": [a, b_changed, call_payload("C")]}).encode()
    decoded = body_decode(second, http_status=200, known=known)
    entries = decoded.data["current_calls"]
    assert isinstance(entries[0], KnownText) and entries[0].transaction_id == "A"
    assert entries[1] == b_changed and entries[2] == call_payload("C")

    result = current_calls_read(second, known=known)
    recognised, changed = result.calls[0], result.calls[1]
    assert recognised.raw_digest == known["A"].raw_hash
    assert changed.content_hash != known["B"].content_hash
    # The recognised call's fields, decoded on first use, are those of a full parse.
    full = current_calls_read(first).calls[0]
    for field in ("call_status", "calling_phone", "bridge_start_time", "content_hash"):
        assert getattr(recognised, field) == getattr(full, field)
    assert dict(recognised.payload) == a
    assert dict(recognised.custom_data) == dict(full.custom_data)
    assert dict(recognised.demographics) == dict(full.demographics)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"transaction_id": "A", ', '"transaction_id":"A" , '),  # spacing, same length
        ('"aaaa"', '"aaab"'),  # content, same length
        ('"aaaa"', '"aaaa" '),  # one character longer
    ],
)
def test_a_call_whose_text_differs_at_all_is_decoded(old, new):
    payload = {"transaction_id": "A", "call_status": "aaaa", "custom_data": {}}
    call_text = json.dumps(payload)
    known = known_of(json.dumps({"current_calls": [payload]}).encode())
    changed_text = call_text.replace(old, new)
    assert changed_text != call_text
    body = ('{"current_calls": [' + changed_text + "]}").encode()
    entry = body_decode(body, http_status=200, known=known).data["current_calls"][0]
    assert entry == json.loads(changed_text) and not isinstance(entry, KnownText)


def test_a_known_text_must_still_be_followed_by_valid_json():
    payload = call_payload("A")
    known = known_of(json.dumps({"current_calls": [payload]}).encode())
    broken = ('{"current_calls": [' + json.dumps(payload) + " oops]}").encode()
    with pytest.raises(BadResponse, match="not JSON"):
        body_decode(broken, http_status=200, known=known)


def test_a_call_written_with_its_id_elsewhere_is_decoded_as_usual():
    payload = {"call_status": "bridged", "transaction_id": "A"}
    text = json.dumps({"current_calls": [payload]})
    known = {"A": Stored(text_digest(json.dumps(payload)), len(json.dumps(payload)), "x")}
    entry = body_decode(text.encode(), http_status=200, known=known).data["current_calls"][0]
    assert entry == payload


def test_a_call_stored_without_its_text_is_decoded_as_usual():
    payload = {"transaction_id": "A"}
    text = json.dumps({"current_calls": [payload]})
    known = {"A": Stored(text_digest(""), 0, "x")}
    decoded = body_decode(text.encode(), http_status=200, known=known).data["current_calls"]
    assert decoded == [payload]
    assert not any(isinstance(entry, KnownText) for entry in decoded)


def test_a_recognised_call_with_unstorable_escapes_is_made_storable_when_decoded():
    payload_text = '{"transaction_id": "A", "note": "nul \\u0000 and lone \\ud800"}'
    body = ('{"current_calls": [' + payload_text + "]}").encode()
    known = known_of(body)
    recognised = current_calls_read(body, known=known).calls[0]
    assert recognised.raw_digest == known["A"].raw_hash
    decoded_in_full = current_calls_read(body).calls[0]
    assert recognised.payload["note"] == decoded_in_full.payload["note"] == "nul \ufffd and lone ?"
    assert recognised.general["note"] == decoded_in_full.general["note"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-32-be"])
@pytest.mark.parametrize("recognised", [False, True])
def test_a_surrogate_sent_as_bytes_is_made_storable(encoding, recognised):
    """Not escaped: encoded as such (invalid, but let through rather than refuse the answer)."""
    payload_text = '{"transaction_id": "A", "note": "é \ud800", "city": "Köln"}'
    body = ('{"current_calls": [' + payload_text + "]}").encode(encoding, "surrogatepass")
    known = known_of(body) if recognised else None
    call = current_calls_read(body, known=known).calls[0]
    assert call.general["note"] == call.payload["note"] == "é ?"
    assert call.general["city"] == "Köln"


@pytest.mark.parametrize("recognised", [False, True])
def test_bytes_that_are_no_utf8_read_as_replacement_characters(recognised):
    """A value written in Latin-1 (and a surrogate sent as bytes beside it): the call is kept
    with U+FFFD where the bytes were, and the answer says so; the other calls are untouched."""
    body = (
        b'{"current_calls": [{"transaction_id": "A", "note": "caf\xe9", "half": "\xed\xa0\x80"},'
        b' {"transaction_id": "B", "city": "K\xc3\xb6ln"}]}'
    )
    known = known_of(body) if recognised else None
    result = current_calls_read(body, known=known)
    first, second = result.calls
    assert first.general["note"] == "caf\ufffd"
    assert first.general["half"] == "?"  # as when no other byte is amiss
    assert second.general["city"] == "Köln"
    assert result.clean and result.notes == ("bytes that are not UTF-8 read as U+FFFD",)
    assert not current_calls_read(b'{"current_calls": [{"transaction_id": "A"}]}').notes


def test_a_transaction_id_with_bytes_that_are_no_utf8_is_left_out():
    body = b'{"current_calls": [{"transaction_id": "A\xff"}, {"transaction_id": "A\xfe"}]}'
    result = current_calls_read(body)
    assert result.calls == ()
    assert result.rejected == (
        "entry 0: transaction_id holds bytes that are not UTF-8",
        "entry 1: transaction_id holds bytes that are not UTF-8",
    )
    assert not result.clean


def _wording(payload: dict, rng: random.Random) -> str:
    """The same call as some serialiser might write it: spacing and key order vary."""
    items = list(payload.items())
    if rng.random() < 0.3:
        rng.shuffle(items)
    separators = rng.choice([(",", ":"), (", ", ": "), (" ,\n", " : ")])
    return json.dumps(dict(items), separators=separators, ensure_ascii=rng.random() < 0.5)


@pytest.mark.parametrize("seed", range(20))
def test_recognising_known_calls_never_changes_what_is_parsed(seed):
    """Whatever the previous answer and this one look like, a parse that recognises known
    calls gives exactly the calls a full decode gives."""
    rng = random.Random(seed)
    calls = [
        call_payload(f"T{i}", call_status=rng.choice(["bridged", "transferred", 'x"}],{']))
        for i in range(8)
    ]
    before = [_wording(call, rng) for call in calls]
    known = known_of(('{"current_calls": [' + ", ".join(before) + "]}").encode())
    now = [
        text if rng.random() < 0.6 else _wording({**call, "note": rng.random()}, rng)
        for text, call in zip(before, calls, strict=True)
    ]
    rng.shuffle(now)
    now.append(_wording(call_payload("NEW"), rng))
    body = ('{"current_calls":[' + rng.choice([",", " , ", ",\n"]).join(now) + "]}").encode()
    fast = current_calls_read(body, known=known).calls
    full = current_calls_read(body).calls
    assert [call.transaction_id for call in fast] == [call.transaction_id for call in full]
    for recognised, decoded in zip(fast, full, strict=True):
        assert dict(recognised.payload) == dict(decoded.payload)
        assert recognised.content_hash == decoded.content_hash
        assert recognised.raw_digest == decoded.raw_digest
        assert recognised.raw_size == decoded.raw_size
    assert any(
        entry
        for entry in body_decode(body, http_status=200, known=known).data["current_calls"]
        if isinstance(entry, KnownText)
    )
