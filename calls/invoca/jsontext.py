"""JSON text as Invoca sends it: the decoder every answer goes through, what no database can
store, and how a call's text is recognised when it comes again unchanged."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any, NamedTuple, Protocol

# PostgreSQL stores no NUL in text or jsonb, and no UTF-8 database stores a lone surrogate.
# Both reach a decoded value through \u escapes; a surrogate also as itself, sent as bytes
# that the answer's decoding lets through (calls.invoca.decoding). Only text holding one of
# them is walked.
UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|d[89a-f][0-9a-f]{2})", re.IGNORECASE)
SURROGATE = re.compile("[\ud800-\udfff]")


def _finite_or_none(text: str) -> float | None:
    # NaN, Infinity and overflowing numbers are no JSON a database column accepts.
    value = float(text)
    return value if math.isfinite(value) else None


DECODER = json.JSONDecoder(parse_float=_finite_or_none, parse_constant=lambda _: None)


def storable(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    return value


def holds_unstorable(text: str) -> bool:
    """Whether the value decoded from `text` may hold what no database stores."""
    if UNSTORABLE_ESCAPE.search(text):
        return True
    # isascii() costs nothing: a string knows whether it is ASCII.
    return not text.isascii() and SURROGATE.search(text) is not None


def json_text_decode(text: str) -> Any:
    """One JSON value as the answer decoder reads it (raises ValueError if it is none)."""
    value = DECODER.decode(text)
    return storable(value) if holds_unstorable(text) else value


def text_digest(text: str) -> str:
    # A change detector, not a security boundary: the fastest digest hashlib has here.
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


class KnownCall(Protocol):
    """What is stored of a live call's text as last received, to recognise it again."""

    @property
    def raw_hash(self) -> str: ...

    @property
    def raw_size(self) -> int: ...  # in characters (0: no text stored)

    @property
    def content_hash(self) -> str: ...


class KnownText(NamedTuple):
    """A call sent again exactly as stored: left undecoded until its fields are needed."""

    transaction_id: str
    text: str
    stored: KnownCall
