"""Turn a current_calls.json body into typed, immutable calls, tolerating every shape the
documentation leaves unsure (see invoca-api.md): nulls and missing keys, ids as numbers,
demographics top-level or inside custom_data, old and new time names, unknown values."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import orjson

from calls.invoca.errors import BadResponse
from calls.memory import cycle_collector_paused
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

_EMPTY: Mapping[str, Any] = MappingProxyType({})

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


class _Deferred(Mapping[str, Any]):
    """A read-only mapping built on first use. A poll that changes nothing only needs each
    call's id and hash, so the per-field work is left for the calls that are written."""

    __slots__ = ("_argument", "_build", "_data")

    def __init__(self, build: Callable[[Any], dict[str, Any]], argument: Any) -> None:
        self._build: Callable[[Any], dict[str, Any]] | None = build
        self._argument = argument
        self._data: dict[str, Any] = {}

    def _materialised(self) -> dict[str, Any]:
        if self._build is not None:
            self._data, self._build, self._argument = self._build(self._argument), None, None
        return self._data

    # Whole-mapping reads go straight to the dict rather than key by key through Mapping.
    def keys(self) -> KeysView[str]:
        return self._materialised().keys()

    def items(self) -> ItemsView[str, Any]:
        return self._materialised().items()

    def values(self) -> ValuesView[Any]:
        return self._materialised().values()

    def get(self, key: str, default: Any = None) -> Any:
        return self._materialised().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._materialised()

    def __eq__(self, other: object) -> bool:
        return self._materialised() == (
            other._materialised() if isinstance(other, _Deferred) else other
        )

    __hash__ = None  # type: ignore[assignment]

    def __getitem__(self, key: str) -> Any:
        return self._materialised()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._materialised())

    def __len__(self) -> int:
        return len(self._materialised())

    def __repr__(self) -> str:
        return repr(self._materialised())


@dataclass(frozen=True, slots=True)
class CustomField:
    value: JsonScalar
    source: str


@dataclass(frozen=True, slots=True)
class CurrentCall:
    transaction_id: str
    call_record_id: str
    external_unique_id: str
    call_status: str
    calling_phone: Phone
    destination_phone: Phone
    called_phone: Phone
    phone_type: str
    bridge_start_time: datetime | None
    start_time: datetime | None
    general: Mapping[str, str]
    custom_data: Mapping[str, CustomField]
    demographics: Mapping[str, JsonScalar]
    payload: Mapping[str, Any]
    content_hash: str

    def custom_data_json(self) -> dict[str, dict[str, JsonScalar]]:
        return {
            name: {"value": item.value, "source": item.source}
            for name, item in self.custom_data.items()
        }


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
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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


def _custom_data(raw: Any) -> tuple[dict[str, CustomField], Any]:
    """The custom fields, and the demographics block if Invoca nested it in here."""
    raw = _custom_block(raw)
    if raw is None:
        return {}, None
    fields: dict[str, CustomField] = {}
    nested_demographics = None
    for name, entry in raw.items():
        if name == DEMOGRAPHICS_KEY:
            nested_demographics = entry
        elif isinstance(entry, dict):
            fields[name] = CustomField(
                value=_scalar(entry.get("value"), "a custom data value"),
                source=_text(entry.get("source")),
            )
        else:  # a bare value instead of {"value", "source"}: keep it, source unknown
            fields[name] = CustomField(value=_scalar(entry, "a custom data value"), source="")
    return fields, nested_demographics


def _demographics(*blocks: Any) -> dict[str, JsonScalar]:
    merged: dict[str, JsonScalar] = {}
    for raw in blocks:
        block = _demographics_block(raw)
        if block is None:
            continue
        for key, value in block.items():
            merged[str(key)] = _scalar(value, "a demographics value")
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


def _general(payload: dict[str, Any]) -> dict[str, str]:
    return {
        key: _text(_scalar(value, f"field {key[:40]}"))
        for key, value in payload.items()
        if key not in _IDENTITY_KEYS
    }


def _deferred_parts(
    payload: dict[str, Any],
) -> tuple[Mapping[str, str], Mapping[str, CustomField], Mapping[str, JsonScalar]]:
    """Check now what can reject a short call (its blocks' shapes and sizes); build later."""
    custom = _custom_block(payload.get("custom_data"))
    nested = _demographics_block(custom.get(DEMOGRAPHICS_KEY)) if custom else None
    top = _demographics_block(payload.get(DEMOGRAPHICS_KEY))
    return (
        _Deferred(_general, payload),
        _Deferred(_custom_fields, custom),
        _Deferred(_demographics_pair, (nested, top)),
    )


def _custom_fields(raw: Any) -> dict[str, CustomField]:
    return _custom_data(raw)[0]


def _demographics_pair(blocks: tuple[Any, Any]) -> dict[str, JsonScalar]:
    return _demographics(*blocks)


def _eager_parts(
    payload: dict[str, Any],
) -> tuple[Mapping[str, str], Mapping[str, CustomField], Mapping[str, JsonScalar]]:
    custom, nested_demographics = _custom_data(payload.get("custom_data"))
    demographics = _demographics(nested_demographics, payload.get(DEMOGRAPHICS_KEY))
    return (
        MappingProxyType(_general(payload)),
        MappingProxyType(custom),
        MappingProxyType(demographics) if demographics else _EMPTY,
    )


def current_call_parse(payload: Any) -> CurrentCall:
    if not isinstance(payload, dict):
        raise CallRejected(f"entry is a {type(payload).__name__}, not an object")
    transaction_id = _text(payload.get("transaction_id")).strip()
    if not transaction_id:
        raise CallRejected("entry has no transaction_id")
    if len(transaction_id) > MAX_TRANSACTION_ID_CHARS:
        raise CallRejected(f"transaction_id is {len(transaction_id)} characters")
    canonical = _canonical(payload)
    parts = _deferred_parts if len(canonical) <= _SHORT_CALL_CHARS else _eager_parts
    general, custom, demographics = parts(payload)
    return CurrentCall(
        transaction_id=transaction_id,
        call_record_id=_text(payload.get("call_record_id"))[:64],
        external_unique_id=_text(payload.get("external_unique_id"))[:200],
        call_status=_text(payload.get("call_status"))[:40],
        calling_phone=phone_parse(_text(payload.get("calling_phone_number"))[:80]),
        destination_phone=phone_parse(_text(payload.get("destination_phone_number"))[:80]),
        called_phone=phone_parse(_text(payload.get("called_phone_number"))[:80]),
        phone_type=_text(payload.get("phone_type"))[:40],
        bridge_start_time=_time(
            payload.get("bridge_start_time") or payload.get("transfer_start_time_utc")
        ),
        start_time=_time(payload.get("start_time") or payload.get("call_start_time_utc")),
        general=general,
        custom_data=custom,
        demographics=demographics,
        payload=MappingProxyType(payload),
        content_hash=_digest(canonical),
    )


def current_calls_parse(
    body: Any, *, http_status: int = 200, filtered: bool = False
) -> CurrentCallsResult:
    """Parse a decoded body. A wrong top-level shape is a BadResponse; one bad entry among
    good ones is left out and reported, and the good ones are kept."""
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
    calls: list[CurrentCall] = []
    rejected: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()
    with cycle_collector_paused():
        for position, entry in enumerate(entries):
            try:
                call = current_call_parse(entry)
            except CallRejected as exc:
                rejected.append(f"entry {position}: {exc}")
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
