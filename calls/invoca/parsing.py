"""Turn a current_calls.json body into typed, immutable calls, tolerating every shape the
documentation leaves unsure (see invoca-api.md): nulls and missing keys, ids as numbers,
demographics top-level or inside custom_data, old and new time names, unknown values."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from calls.invoca.errors import BadResponse
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
    notes: tuple[str, ...] = field(default=())

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


def _custom_data(raw: Any) -> tuple[dict[str, CustomField], Any]:
    """The custom fields, and the demographics block if Invoca nested it in here."""
    if raw is None:
        return {}, None
    if not isinstance(raw, dict):
        raise CallRejected("custom_data is not an object")
    if len(raw) > MAX_CUSTOM_FIELDS:
        raise CallRejected(f"custom_data has {len(raw)} fields (limit {MAX_CUSTOM_FIELDS})")
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
    for block in blocks:
        if block is None:
            continue
        if not isinstance(block, dict):
            raise CallRejected("demographics_data is not an object")
        if len(block) > MAX_CUSTOM_FIELDS:
            raise CallRejected(f"demographics_data has {len(block)} keys")
        for key, value in block.items():
            merged[str(key)] = _scalar(value, "a demographics value")
    return merged


def content_hash(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def current_call_parse(payload: Any) -> CurrentCall:
    if not isinstance(payload, dict):
        raise CallRejected(f"entry is a {type(payload).__name__}, not an object")
    transaction_id = _text(payload.get("transaction_id")).strip()
    if not transaction_id:
        raise CallRejected("entry has no transaction_id")
    if len(transaction_id) > MAX_TRANSACTION_ID_CHARS:
        raise CallRejected(f"transaction_id is {len(transaction_id)} characters")
    custom, nested_demographics = _custom_data(payload.get("custom_data"))
    demographics = _demographics(nested_demographics, payload.get(DEMOGRAPHICS_KEY))
    general = {
        key: _text(_scalar(value, f"field {key[:40]}"))
        for key, value in payload.items()
        if key not in _IDENTITY_KEYS
    }
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
        general=MappingProxyType(general),
        custom_data=MappingProxyType(custom),
        demographics=MappingProxyType(demographics) if demographics else _EMPTY,
        payload=MappingProxyType(payload),
        content_hash=content_hash(payload),
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
    if entries is None and body.get("partial_data") is not True:
        raise BadResponse("the response has no current_calls list", http_status=http_status)
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise BadResponse("current_calls is not a list", http_status=http_status)
    calls: list[CurrentCall] = []
    rejected: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()
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
    partial = http_status == 202 or body.get("partial_data") is True
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
