"""Complete HTTP answers, normal and faulty, as plain data the handler writes out."""

from __future__ import annotations

import copy
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from typing import Any

from calls.sandbox.faults import FaultRule

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


@dataclass
class CannedResponse:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def to_json(data: Any) -> bytes:
    # Compact and UTF-8, as a Rails API answers; emoji and RTL text are not escaped, and a
    # lone surrogate goes out as the bytes a careless encoder writes for it (invalid UTF-8).
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "surrogatepass"
    )


def json_response(status: int, data: Any, **headers: str) -> CannedResponse:
    return CannedResponse(status, to_json(data), JSON_TYPE, dict(headers))


def invalid_input(status: int, message: str, error_class: str = "InvalidInput") -> CannedResponse:
    return json_response(status, {"errors": {"class": error_class, "invalid_data": message}})


def not_authorized() -> CannedResponse:
    return json_response(401, {"error": "NotAuthorized"})


def current_calls(calls: list[Any]) -> CannedResponse:
    return json_response(200, {"current_calls": calls})


def current_calls_encoded(encoded_calls: list[bytes]) -> CannedResponse:
    """The answer `current_calls` gives, byte for byte, from calls each already `to_json`."""
    body = b'{"current_calls":[' + b",".join(encoded_calls) + b"]}"
    return CannedResponse(200, body, JSON_TYPE)


def _html(status: int, title: str, text: str) -> CannedResponse:
    page = (
        f"<!DOCTYPE html><html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{text}</p><hr><address>nginx</address></body></html>"
    )
    return CannedResponse(status, page.encode(), HTML_TYPE)


# Strings that break a page, a spreadsheet or a layout when shown or exported without care.
HOSTILE_VALUES: dict[str, str] = {
    "agent_notes": "<script>alert(1)</script>",
    "landing_page": '"><img src=x onerror=alert(1)>',
    "export_formula": '=HYPERLINK("http://x","click me")',
    "csv_injection": "+cmd|' /C calc'!A0",
    "long_value": "L" * 10_240,
    "emoji": "📞🔥 hot lead 👍🏽 — café",
    "right_to_left": "مرحبا بالعالم \u202eevil\u202c שלום",
    "control_chars": "line1\nline2\ttab\u0000nul",
    "half_an_emoji": "cut short \ud83d",
}


# A value some integration wrote in Latin-1: in the hostile call's answer its è and é go out
# as the lone bytes E8 and E9, which are no UTF-8 (_latin_1_sent).
LATIN_1_VALUE = "crème brûlée, in Latin-1"


def hostile_call(now: datetime) -> dict[str, Any]:
    """One call whose every free-text field is hostile, with a fixed id so a UI keeps it."""
    custom = {name: {"value": value, "source": "Api"} for name, value in HOSTILE_VALUES.items()}
    custom["latin_1"] = {"value": LATIN_1_VALUE, "source": "Api"}
    custom["<b>field_name</b>"] = {"value": "name is markup too", "source": "<i>source</i>"}
    custom["demographics_data"] = {
        "display_name_data_append": "<script>alert('ecp')</script>",
        "first_name_data_append": "=1+1",
        "last_name_data_append": "Ñandú 🦤",
        "address_city_data_append": HOSTILE_VALUES["right_to_left"],
    }
    return {
        "transaction_id": "HOSTILE-0000-0000-0000-0001",
        "call_record_id": "ZXSS-000000000001",
        "call_status": "<b>bridged</b>",
        "calling_phone_number": "<script>alert(2)</script>",
        "destination_phone_number": "+18885550100",
        "bridge_start_time": now.isoformat(timespec="seconds"),
        # Valid ISO 8601, but before the calendar's first day once in UTC.
        "start_time": "0001-01-01T00:00:00+01:00",
        "advertiser_name": '<img src=x onerror="alert(3)">',
        "promo_number_description": '=HYPERLINK("http://x")',
        "city": HOSTILE_VALUES["right_to_left"],
        "custom_data": custom,
    }


def _with_hostile_values(call: Any) -> Any:
    if not isinstance(call, dict):
        return call
    call = copy.deepcopy(call)
    custom = call.get("custom_data")
    if not isinstance(custom, dict):
        custom = call["custom_data"] = {}
    for name, value in HOSTILE_VALUES.items():
        custom[name] = {"value": value, "source": "Api"}
    return call


def fault_response(rule: FaultRule, calls: list[Any], now: datetime) -> CannedResponse:
    """The answer for every fault mode that is one complete response (not slow/hang/drip/close).

    `calls` is what the request would normally have returned.
    """
    mode, opts = rule.mode, rule.options
    if mode == "401":
        return not_authorized()
    if mode == "403":
        return invalid_input(403, opts["invalid_data"])
    if mode == "429":
        return _too_many_requests(opts["retry_after"], opts["retry_after_date"])
    if mode == "500":
        handle = uuid.uuid4().hex[:12]
        return json_response(500, {"error": "InternalServerError", "error_handle": handle})
    if mode == "502":
        return _html(502, "502 Bad Gateway", "The upstream server did not answer.")
    if mode == "503":
        response = _html(503, "503 Service Temporarily Unavailable", "Down for maintenance.")
        if opts["retry_after"] is not None:
            response.headers["Retry-After"] = str(round(opts["retry_after"]))
        return response
    if mode == "malformed":
        return _malformed(opts["variant"], calls)
    if mode == "html200":
        return _html(200, "We'll be right back", "Invoca is undergoing scheduled maintenance.")
    if mode == "wrong_shape":
        shapes: dict[str, Any] = {
            "list": calls,
            "calls_key": {"calls": []},
            "null_calls": {"current_calls": None},
        }
        return json_response(200, shapes[opts["variant"]])
    if mode == "one_bad_call":
        nameless = {
            "call_status": "bridged",
            "calling_phone_number": "+13105550100",
            "custom_data": {},
        }
        return current_calls([*calls, "this is not a call", nameless])
    if mode == "partial":
        body = {
            "current_calls": calls[1::2],
            "partial_data": True,
            "errors": [
                {
                    "error": "CallsInProgressAPI::UnreachableRegion",
                    "error_description": "one region did not answer",
                }
            ],
        }
        return json_response(202, body)
    if mode == "notfound":
        return json_response(404, {"error": "RecordNotFound"})
    if mode == "hostile":
        answer = current_calls([hostile_call(now), *(_with_hostile_values(c) for c in calls)])
        return _latin_1_sent(answer)
    raise ValueError(f"mode {mode} is not a canned response")


def _latin_1_sent(answer: CannedResponse) -> CannedResponse:
    utf_8, latin_1 = LATIN_1_VALUE.encode(), LATIN_1_VALUE.encode("latin-1")
    return CannedResponse(answer.status, answer.body.replace(utf_8, latin_1), answer.content_type)


def _too_many_requests(retry_after: float, as_date: bool) -> CannedResponse:
    seconds = max(0, round(retry_after))
    value = formatdate(time.time() + seconds, usegmt=True) if as_date else str(seconds)
    return json_response(429, {"error": "TooManyRequests"}, **{"Retry-After": value})


def _malformed(variant: str, calls: list[Any]) -> CannedResponse:
    if variant == "garbage":
        body = b"{'current_calls': [NaN, undefined,]}"
    else:
        full = to_json({"current_calls": calls})
        # Cut inside the document so that no parser can accept it.
        body = full[: max(len(full) * 2 // 3, 1)] if len(full) > 40 else b'{"current_calls": [{"tr'
    return CannedResponse(200, body, JSON_TYPE)
