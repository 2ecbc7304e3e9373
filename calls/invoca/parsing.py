"""Turn a current_calls.json body into typed, immutable calls, tolerating every shape the
documentation leaves unsure (see invoca-api.md): nulls and missing keys, ids as numbers,
demographics top-level or inside custom_data, old and new time names, unknown values."""

from __future__ import annotations

import hashlib
import json
from collections.abc import (
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import orjson

from calls.invoca.errors import BadResponse
from calls.invoca.jsontext import KnownText, json_text_decode, text_digest
from calls.moments import moment_in_range
from calls.phones import Phone, phone_parse

JsonScalar = str | int | float | bool | None

MAX_TRANSACTION_ID_CHARS = 64
MAX_CUSTOM_FIELDS = 1000
MAX_VALUE_CHARS = 64 * 1024
DEMOGRAPHICS_KEY = "demographics_data"

# Keys with a column of their own; everything else scalar at the top level is "general".
_IDENTITY_KEYS = frozenset(
    {
        "transaction_id",
        "call_record_id",
        "external_unique_id",
        "call_status",
        "calling_phone_number",
        "destination_phone_number",
        "called_phone_number",
        "phone_type",
        "bridge_start_time",
        "transfer_start_time_utc",
        "start_time",
        "call_start_time_utc",
        "custom_data",
        DEMOGRAPHICS_KEY,
    }
)


# The canonical form the content hash is taken of (sorted keys, no spaces, UTF-8), for what
# orjson cannot write; one encoder, not one per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# Types JSON has no word for (datetimes, dataclasses, subclasses) go to the fallback, which
# refuses them as it always did, rather than being written in orjson's own way.
_ORJSON_CANONICAL = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
# A value's text (default separators) is at most twice its share of the compact canonical form
# (counted in bytes, never fewer than characters), so in a call whose canonical form is this
# short no value can pass MAX_VALUE_CHARS.
_SHORT_CALL_CHARS = MAX_VALUE_CHARS // 2
# The same bound for a call's text as received, where a number may be written in fewer
# characters than Python writes it back (1E15 is 1000000000000000.0): four times apart at most.
_SHORT_CALL_TEXT = MAX_VALUE_CHARS // 8


@dataclass(frozen=True, slots=True)
class CustomField:
    value: JsonScalar
    source: str


class CurrentCall:
    """One live call as Invoca sent it.

    Its id and its fingerprint are worked out when it is parsed, everything else on first use:
    a poll that changes nothing needs only those two for each of thousands of calls."""

    __slots__ = (
        "_content_hash",
        "_parts",
        "_source",
        "_text",
        "raw_digest",
        "raw_size",
        "transaction_id",
    )
    transaction_id: str
    raw_digest: str
    raw_size: int
    _source: dict[str, Any] | None
    _text: str | None
    _parts: _Parts | None
    _content_hash: str

    def __init__(
        self,
        *,
        transaction_id: str,
        source: dict[str, Any] | None,
        text: str | None = None,
        parts: _Parts | None = None,
        raw_digest: str = "",
        content_hash: str = "",
    ) -> None:
        init = object.__setattr__
        init(self, "transaction_id", transaction_id)
        init(self, "_source", source)  # None: decoded from _text on first use
        init(self, "_text", text)
        init(self, "_parts", parts)  # None: built on first use, from checked blocks
        # A digest and the length of the call's text as received ("" and 0 when it was not
        # kept): equal digests mean equal calls; different ones say nothing until
        # content_hash is compared.
        init(self, "raw_digest", raw_digest)
        init(self, "raw_size", len(text) if text is not None else 0)
        init(self, "_content_hash", content_hash)

    @property
    def _decoded(self) -> dict[str, Any]:
        source = self._source
        if source is None:  # worked out once, on first use: not a change of state
            source = json_text_decode(self._text or "{}")
            object.__setattr__(self, "_source", source)
        return source

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a parsed call is read-only ({name})")

    def __repr__(self) -> str:
        return f"<CurrentCall {self.transaction_id}>"

    @property
    def payload(self) -> Mapping[str, Any]:
        return MappingProxyType(self._decoded)

    @property
    def sent_text(self) -> str | None:
        """The call's text exactly as the answer held it, when the decoder kept it."""
        return self._text

    @property
    def content_hash(self) -> str:
        """A digest of the call's content, blind to key order and spacing."""
        if not self._content_hash:  # worked out once, on first use: not a change of state
            object.__setattr__(self, "_content_hash", content_hash(self._decoded))
        return self._content_hash

    def _built_parts(self) -> _Parts:
        parts = self._parts
        if parts is None:  # worked out once, on first use: not a change of state
            parts = _parts_build(self._decoded)
            object.__setattr__(self, "_parts", parts)
        return parts

    @property
    def general(self) -> Mapping[str, str]:
        return MappingProxyType(self._built_parts()[0])

    @property
    def custom_data(self) -> Mapping[str, CustomField]:
        return MappingProxyType(
            {
                name: CustomField(entry["value"], str(entry["source"]))
                for name, entry in self._built_parts()[1].items()
            }
        )

    @property
    def demographics(self) -> Mapping[str, JsonScalar]:
        return MappingProxyType(self._built_parts()[2])

    def stored_parts(self) -> _Parts:
        """The general fields, the custom data (as {"value", "source"} objects) and the
        demographics, in the form their JSON columns hold. Shared: never to be changed."""
        return self._built_parts()

    def _field(self, key: str, limit: int) -> str:
        return _text(self._decoded.get(key))[:limit]

    @property
    def call_record_id(self) -> str:
        return self._field("call_record_id", 64)

    @property
    def external_unique_id(self) -> str:
        return self._field("external_unique_id", 200)

    @property
    def call_status(self) -> str:
        return self._field("call_status", 40)

    @property
    def phone_type(self) -> str:
        return self._field("phone_type", 40)

    @property
    def calling_phone(self) -> Phone:
        return phone_parse(self._field("calling_phone_number", 80))

    @property
    def destination_phone(self) -> Phone:
        return phone_parse(self._field("destination_phone_number", 80))

    @property
    def called_phone(self) -> Phone:
        return phone_parse(self._field("called_phone_number", 80))

    @property
    def bridge_start_time(self) -> datetime | None:
        source = self._decoded
        return _time(source.get("bridge_start_time") or source.get("transfer_start_time_utc"))

    @property
    def start_time(self) -> datetime | None:
        source = self._decoded
        return _time(source.get("start_time") or source.get("call_start_time_utc"))

    def custom_data_json(self) -> dict[str, dict[str, JsonScalar]]:
        return {name: dict(entry) for name, entry in self._built_parts()[1].items()}


@dataclass(frozen=True, slots=True)
class CurrentCallsResult:
    calls: tuple[CurrentCall, ...]
    http_status: int = 200
    filtered: bool = False
    partial: bool = False
    partial_reason: str = ""
    # Why entries were left out, without any of their content (it may be personal data).
    rejected: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        """Only a clean answer is a complete picture of what is live, so only it may end calls."""
        return not (self.filtered or self.partial or self.rejected)


# A call's general fields, custom fields and demographics.
# Plain dicts, built once and never changed: the parsed call hands out read-only views.
_Parts = tuple[dict[str, str], dict[str, dict[str, JsonScalar]], dict[str, JsonScalar]]


class CallRejected(ValueError):
    """One entry of the list cannot be used; the reason never quotes its content."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    # At either end of the calendar: unknown, like a time that does not parse (the call's
    # text as sent still holds it).
    return moment if moment_in_range(moment) else None


def _scalar(value: Any, where: str) -> JsonScalar:
    if isinstance(value, str):
        if len(value) > MAX_VALUE_CHARS:
            raise CallRejected(f"{where} is {len(value)} characters (limit {MAX_VALUE_CHARS})")
        return value
    if value is None or isinstance(value, bool | int | float):
        return value
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if len(text) > MAX_VALUE_CHARS:
        raise CallRejected(f"{where} is {len(text)} characters (limit {MAX_VALUE_CHARS})")
    return text


def _is_empty(raw: Any) -> bool:
    # Serialisers disagree on "nothing": null, {}, [] and "" all mean no data here.
    return raw is None or raw == "" or (isinstance(raw, list | dict) and not raw)


def _custom_block(raw: Any) -> dict[str, Any] | None:
    if _is_empty(raw):
        return None
    if not isinstance(raw, dict):
        raise CallRejected("custom_data is not an object")
    if len(raw) > MAX_CUSTOM_FIELDS:
        raise CallRejected(f"custom_data has {len(raw)} fields (limit {MAX_CUSTOM_FIELDS})")
    return raw


def _demographics_block(block: Any) -> dict[str, Any] | None:
    if _is_empty(block):
        return None
    if not isinstance(block, dict):
        raise CallRejected("demographics_data is not an object")
    if len(block) > MAX_CUSTOM_FIELDS:
        raise CallRejected(f"demographics_data has {len(block)} keys")
    return block


def _custom_data(raw: Any) -> tuple[dict[str, dict[str, JsonScalar]], Any]:
    """The custom fields as {"value", "source"} objects (as stored: building CustomFields for
    hundreds of calls a poll cost more than encoding them), and the demographics block if
    Invoca nested it in here."""
    raw = _custom_block(raw)
    if raw is None:
        return {}, None
    fields: dict[str, dict[str, JsonScalar]] = {}
    nested_demographics = None
    for name, entry in raw.items():
        if name == DEMOGRAPHICS_KEY:
            nested_demographics = entry
        elif isinstance(entry, dict):
            value, source = entry.get("value"), entry.get("source")
            fields[name] = {
                "value": value if _short_text(value) else _scalar(value, "a custom data value"),
                "source": source if type(source) is str else _text(source),
            }
        else:  # a bare value instead of {"value", "source"}: keep it, source unknown
            fields[name] = {"value": _scalar(entry, "a custom data value"), "source": ""}
    return fields, nested_demographics


def _demographics(*blocks: Any) -> dict[str, JsonScalar]:
    merged: dict[str, JsonScalar] = {}
    for raw in blocks:
        block = _demographics_block(raw)
        if block is None:
            continue
        for key, value in block.items():
            merged[key] = value if _short_text(value) else _scalar(value, "a demographics value")
    return merged


def _canonical(payload: Mapping[str, Any]) -> bytes:
    """The same bytes as json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for everything Invoca sends (text, integers, booleans, nulls), three times faster: it is
    the largest cost of parsing a poll. Floats may be written differently (1e-05 as 0.00001),
    which only ever changes a hash, not what it detects. What orjson refuses (integers beyond
    64 bits, lone surrogates) goes through the standard library."""
    try:
        return orjson.dumps(payload, option=_ORJSON_CANONICAL)
    except TypeError:  # orjson.JSONEncodeError included
        return _CANONICAL.encode(payload).encode("utf-8", "surrogatepass")


def _digest(canonical: bytes) -> str:
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def content_hash(payload: Mapping[str, Any]) -> str:
    return _digest(_canonical(payload))


def _short_text(value: Any) -> bool:
    # Nearly every value is short text, taken as is without the checks below.
    return type(value) is str and len(value) <= MAX_VALUE_CHARS


def _general(payload: dict[str, Any]) -> dict[str, str]:
    return {
        key: value if _short_text(value) else _text(_scalar(value, f"field {key[:40]}"))
        for key, value in payload.items()
        if key not in _IDENTITY_KEYS
    }


def _blocks_check(payload: dict[str, Any]) -> None:
    """What can reject a short call (its blocks' shapes and sizes), checked before its parts
    are built on first use."""
    custom = _custom_block(payload.get("custom_data"))
    if custom:
        _demographics_block(custom.get(DEMOGRAPHICS_KEY))
    _demographics_block(payload.get(DEMOGRAPHICS_KEY))


def _parts_build(payload: dict[str, Any]) -> _Parts:
    custom, nested_demographics = _custom_data(payload.get("custom_data"))
    demographics = _demographics(nested_demographics, payload.get(DEMOGRAPHICS_KEY))
    return (_general(payload), custom, demographics)


def current_call_parse(payload: Any, text: str | None = None) -> CurrentCall:
    """One entry of the list; `text` is the entry as it was sent, when the decoder kept it."""
    if isinstance(payload, KnownText):  # checked when it was first received, as this text
        return CurrentCall(
            transaction_id=payload.transaction_id,
            source=None,
            text=payload.text,
            raw_digest=payload.stored.raw_hash,
            content_hash=payload.stored.content_hash,
        )
    if not isinstance(payload, dict):
        raise CallRejected(f"entry is a {type(payload).__name__}, not an object")
    transaction_id = _text(payload.get("transaction_id")).strip()
    if not transaction_id:
        raise CallRejected("entry has no transaction_id")
    if len(transaction_id) > MAX_TRANSACTION_ID_CHARS:
        raise CallRejected(f"transaction_id is {len(transaction_id)} characters")
    digest = ""
    short = text is not None and len(text) <= _SHORT_CALL_TEXT
    if not short:
        canonical = _canonical(payload)
        digest = _digest(canonical)
        short = len(canonical) <= _SHORT_CALL_CHARS
    if short:
        _blocks_check(payload)
    return CurrentCall(
        transaction_id=transaction_id,
        source=payload,
        text=text,
        parts=None if short else _parts_build(payload),  # a long call is checked value by value
        raw_digest=text_digest(text) if text is not None else "",
        content_hash=digest,
    )


def current_calls_parse(
    body: Any,
    *,
    http_status: int = 200,
    filtered: bool = False,
    call_texts: Sequence[str] | None = None,
    replaced: bool = False,
) -> CurrentCallsResult:
    """Parse a decoded body. A wrong top-level shape is a BadResponse; one bad entry among
    good ones is left out and reported, and the good ones are kept. `call_texts` are the
    entries' texts as received, in order (calls.invoca.decoding), when known. `replaced`:
    bytes of the body that were no UTF-8 were read as U+FFFD."""
    if not isinstance(body, dict):
        raise BadResponse(
            f"expected a JSON object, got {type(body).__name__}", http_status=http_status
        )
    entries = body.get("current_calls")
    partial = http_status == 202 or body.get("partial_data") in (True, "true")
    if entries is None and not partial:
        raise BadResponse("the response has no current_calls list", http_status=http_status)
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise BadResponse("current_calls is not a list", http_status=http_status)
    if call_texts is not None and len(call_texts) != len(entries):
        call_texts = None
    calls: list[CurrentCall] = []
    rejected: list[str] = []
    notes = ["bytes that are not UTF-8 read as U+FFFD"] if replaced else []
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        try:
            call = current_call_parse(
                entry, call_texts[position] if call_texts is not None else None
            )
        except CallRejected as exc:
            rejected.append(f"entry {position}: {exc}")
            continue
        if replaced and "\ufffd" in call.transaction_id:
            # Two calls whose ids differ only in the bytes replaced would become one.
            rejected.append(f"entry {position}: transaction_id holds bytes that are not UTF-8")
            continue
        if call.transaction_id in seen:
            notes.append(f"entry {position}: repeated transaction_id, first one kept")
            continue
        seen.add(call.transaction_id)
        calls.append(call)
    return CurrentCallsResult(
        calls=tuple(calls),
        http_status=http_status,
        filtered=filtered,
        partial=partial,
        partial_reason=_partial_reason(body) if partial else "",
        rejected=tuple(rejected),
        notes=tuple(notes),
    )


def _partial_reason(body: dict[str, Any]) -> str:
    errors = body.get("errors")
    if isinstance(errors, list):
        names = [_text(item.get("error"))[:100] for item in errors[:3] if isinstance(item, dict)]
        if any(names):
            return "partial answer: " + ", ".join(name for name in names if name)
    return "partial answer"
