"""JSON text as Invoca sends it (calls.invoca.jsontext): decoded into what any database can
store, and recognised by its digest when it comes again."""

from __future__ import annotations

import pytest

from calls.invoca.jsontext import json_text_decode, storable, text_digest


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": NaN, "b": Infinity, "c": -Infinity}', {"a": None, "b": None, "c": None}),
        ('{"big": 1e400, "small": 2.5}', {"big": None, "small": 2.5}),
        ('{"nul": "a\\u0000b"}', {"nul": "a\ufffdb"}),
        ('{"lone": "x\\ud800y"}', {"lone": "x?y"}),
        ('{"k\\u0000": ["\\udfff", 1]}', {"k\ufffd": ["?", 1]}),
        ('{"pair": "\\ud83d\\ude00"}', {"pair": "\U0001f600"}),
        # A surrogate as itself (sent as bytes, decoded with surrogatepass), not escaped.
        ('{"raw": "é \ud800"}', {"raw": "é ?"}),
        ('{"raw\udc00": "\udbff"}', {"raw?": "?"}),
    ],
)
def test_what_no_database_stores_is_replaced_and_the_rest_kept(text: str, value: object) -> None:
    assert json_text_decode(text) == value


def test_text_that_is_no_json_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        json_text_decode('{"a": ')


def test_storable_leaves_values_without_unstorable_text_as_they_are() -> None:
    value = {"a": [1, 2.5, True, None, "text ✓"]}
    assert storable(value) == value


def test_the_digest_tells_any_change_of_text_apart() -> None:
    assert text_digest('{"a": 1}') == text_digest('{"a": 1}')
    assert text_digest('{"a": 1}') != text_digest('{"a":1}')
    # A lone surrogate has a digest too: the text is hashed as received.
    assert text_digest("\ud800") != text_digest("\ud801")
