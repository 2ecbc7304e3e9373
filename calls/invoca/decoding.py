"""Decode a current_calls.json body, keeping the text each call was sent as.

The decoded body is what `json.loads` gives (with NaN, Infinity and overflowing numbers as
null, and what no database stores replaced). For a body of the usual shape (an object holding a
"current_calls" list) each call's own slice of the text is kept, and a call whose text is the
very text already stored for its transaction id (same length, same digest: `KnownCall`) is not
decoded at all: it stays a `KnownText` until something asks for its fields. Decoding thousands
of calls that did not change was most of the cost of a poll. Any other shape decodes as before.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, overload

from calls.invoca.errors import BadResponse
from calls.invoca.jsontext import (
    DECODER,
    UNSTORABLE_ESCAPE,
    KnownCall,
    KnownText,
    holds_unstorable,
    storable,
    text_digest,
)
from calls.invoca.parsing import CurrentCallsResult, current_calls_parse

CALLS_KEY = "current_calls"

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Invoca writes transaction_id first; a call written otherwise is simply decoded.
_KNOWN_START = re.compile(r'\{[ \t\n\r]*"transaction_id"[ \t\n\r]*:[ \t\n\r]*"([^"\\]{1,64})"')


class CallTexts(Sequence[str]):
    """The text of each entry of the calls list, cut from the body when asked for."""

    def __init__(self, text: str, spans: list[tuple[int, int]]) -> None:
        self._text = text
        self._spans = spans

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self._text[start:end] for start, end in self._spans[index]]
        start, end = self._spans[index]
        return self._text[start:end]

    def __len__(self) -> int:
        return len(self._spans)


class DecodedBody(NamedTuple):
    data: Any
    call_texts: CallTexts | None
    # Bytes that are no UTF-8 were read as U+FFFD (see _text_of).
    replaced: bool = False


class _NotTheUsualShape(Exception):
    """The quick walk gives up; the whole text is decoded the ordinary way."""


def _skip(text: str, at: int) -> int:
    end = _WHITESPACE.match(text, at)
    return end.end() if end else at


def _expect(text: str, at: int, char: str) -> int:
    if text[at : at + 1] != char:
        raise _NotTheUsualShape
    return _skip(text, at + 1)


def _known_text(text: str, at: int, known: Mapping[str, KnownCall]) -> KnownText | None:
    """The call starting at `at` if it is, byte for byte, the text stored for its id."""
    start = _KNOWN_START.match(text, at)
    if start is None:
        return None
    stored = known.get(start.group(1))
    if stored is None or not stored.raw_size:
        return None
    end = at + stored.raw_size
    if text[end - 1 : end] != "}":
        return None
    call_text = text[at:end]
    if text_digest(call_text) != stored.raw_hash:
        return None
    return KnownText(start.group(1), call_text, stored)


def _list_with_spans(
    text: str, at: int, known: Mapping[str, KnownCall]
) -> tuple[list[Any], list[tuple[int, int]], int]:
    items: list[Any] = []
    spans: list[tuple[int, int]] = []
    at = _expect(text, at, "[")
    if text[at : at + 1] == "]":
        return items, spans, at + 1
    while True:
        item = _known_text(text, at, known) if known else None
        if item is not None:
            end = at + item.stored.raw_size
        else:
            item, end = DECODER.raw_decode(text, at)
        items.append(item)
        spans.append((at, end))
        at = _skip(text, end)
        if text[at : at + 1] == "]":
            return items, spans, at + 1
        at = _expect(text, at, ",")


def _object_with_spans(text: str, known: Mapping[str, KnownCall]) -> DecodedBody:
    """The top-level object one member at a time, every value by the standard decoder."""
    data: dict[str, Any] = {}
    spans: list[tuple[int, int]] | None = None
    at = _expect(text, _skip(text, 0), "{")
    if text[at : at + 1] != "}":
        while True:
            if text[at : at + 1] != '"':
                raise _NotTheUsualShape
            key, at = json.decoder.scanstring(text, at + 1, True)  # type: ignore[attr-defined]
            at = _expect(text, _skip(text, at), ":")
            if key == CALLS_KEY and text[at : at + 1] == "[":
                data[key], spans, at = _list_with_spans(text, at, known)
            else:
                data[key], at = DECODER.raw_decode(text, at)
                if key == CALLS_KEY:  # a repeated key: the last one counts, as in json.loads
                    spans = None
            at = _skip(text, at)
            if text[at : at + 1] == "}":
                break
            at = _expect(text, at, ",")
    if _skip(text, at + 1) != len(text):
        raise _NotTheUsualShape
    return DecodedBody(data, CallTexts(text, spans) if spans is not None else None)


_SURROGATEPASS = codecs.lookup_error("surrogatepass")
_REPLACE = codecs.lookup_error("replace")


def _surrogate_else_replacement(error: UnicodeError) -> tuple[str | bytes, int]:
    try:
        return _SURROGATEPASS(error)
    except UnicodeDecodeError:
        return _REPLACE(error)


_LENIENT = "cipdash-surrogatepass-else-replace"
codecs.register_error(_LENIENT, _surrogate_else_replacement)


class _Text(NamedTuple):
    text: str
    encoding: str
    replaced: bool


def _text_of(body: bytes) -> _Text:
    """The body's text. An answer is not refused whole for one bad character: a surrogate
    sent as bytes passes (surrogatepass) and is made storable later, and bytes that are no
    UTF-8 at all (a value some integration wrote in Latin-1) are read as U+FFFD, which
    current_calls_parse then refuses in a transaction id alone."""
    encoding = json.detect_encoding(body)
    try:
        return _Text(body.decode(encoding, "surrogatepass"), encoding, False)
    except UnicodeDecodeError:
        return _Text(body.decode(encoding, _LENIENT), encoding, True)


# A surrogate in UTF-8: ED followed by A0-BF. Looking for ED in the bytes, then for the pair,
# is many times faster than searching a long text that is not ASCII.
_SURROGATE_UTF8 = re.compile(rb"\xed[\xa0-\xbf]")


def _holds_unstorable(body: bytes, text: str, encoding: str) -> bool:
    """holds_unstorable(text), sooner for a text in UTF-8 that is not ASCII."""
    if encoding.startswith("utf-8") and not text.isascii():
        surrogate = b"\xed" in body and _SURROGATE_UTF8.search(body) is not None
        return surrogate or UNSTORABLE_ESCAPE.search(text) is not None
    return holds_unstorable(text)


def body_decode(
    body: bytes, *, http_status: int, known: Mapping[str, KnownCall] | None = None
) -> DecodedBody:
    """Decode a body, or raise BadResponse saying why it is no JSON. `known`: the stored text
    of each live call, by transaction id, that need not be decoded again."""
    try:
        text, encoding, replaced = _text_of(body)
        try:
            decoded = _object_with_spans(text, known or {})
        except (_NotTheUsualShape, ValueError, RecursionError):
            decoded = DecodedBody(DECODER.decode(text), None)  # raises the precise error
        if _holds_unstorable(body, text, encoding):
            decoded = DecodedBody(storable(decoded.data), decoded.call_texts)
        return decoded._replace(replaced=True) if replaced else decoded
    except json.JSONDecodeError as exc:
        raise BadResponse(f"response is not JSON ({exc.msg})", http_status=http_status) from None
    except RecursionError:
        raise BadResponse("response JSON is nested too deeply", http_status=http_status) from None


def current_calls_read(
    body: bytes,
    *,
    http_status: int = 200,
    filtered: bool = False,
    known: Mapping[str, KnownCall] | None = None,
) -> CurrentCallsResult:
    """A current_calls.json answer, from its bytes to parsed calls."""
    decoded = body_decode(body, http_status=http_status, known=known)
    return current_calls_parse(
        decoded.data,
        http_status=http_status,
        filtered=filtered,
        call_texts=decoded.call_texts,
        replaced=decoded.replaced,
    )
