"""The request rules of the Calls In Progress endpoint: path, version, parameters, filters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs

CALLS_PATH = re.compile(r"^/api/(?P<version>[^/]+)/calls_in_progress/current_calls\.json$")
ORGANIZATION_TYPES = ("Network", "Advertiser")
# Characters after which a destination number holds an extension or dial pauses.
_EXTENSION_MARKERS = re.compile(r"[x#*,]", re.IGNORECASE)


class InvalidInput(Exception):
    """Answered as 403 with the InvalidInput error shape other Invoca APIs use."""


def is_valid_version(version: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version):
        return False
    try:
        date.fromisoformat(version)
    except ValueError:
        return False
    return True


def parse_query(query: str) -> dict[str, str]:
    """First value of each parameter; blank values are kept so they can be rejected."""
    return {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}


def phone_digits(number: Any) -> str:
    """Digits that identify a number: NANP numbers lose their leading country code 1, so
    `800-555-1234`, `8005551234`, `+18005551234` and `18005551234` all compare equal."""
    if number is None:
        return ""
    text = _EXTENSION_MARKERS.split(str(number), maxsplit=1)[0]
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        return digits[1:]
    return digits


@dataclass(frozen=True)
class CallFilter:
    transaction_id: str | None = None
    external_unique_id: str | None = None
    call_record_id: str | None = None
    calling_digits: str | None = None
    destination_digits: str | None = None

    @property
    def narrows(self) -> bool:
        """Whether the request named any criterion; without one every call is answered."""
        criteria = (self.transaction_id, self.external_unique_id, self.call_record_id)
        return self.calling_digits is not None or any(c is not None for c in criteria)

    def matches(self, call: Any) -> bool:
        if not isinstance(call, dict):
            return False
        checks = (
            (self.transaction_id, "transaction_id"),
            (self.external_unique_id, "external_unique_id"),
            (self.call_record_id, "call_record_id"),
        )
        for wanted, key in checks:
            if wanted is not None and _as_text(call.get(key)) != wanted:
                return False
        if self.calling_digits is not None:
            if phone_digits(call.get("calling_phone_number")) != self.calling_digits:
                return False
            if phone_digits(call.get("destination_phone_number")) != self.destination_digits:
                return False
        return True


def _as_text(value: Any) -> str | None:
    return None if value is None else str(value)


def check_parameters(params: dict[str, str], invoca_id: str, organization_type: str) -> CallFilter:
    """Validate the query of an authenticated request and turn it into a filter.

    Raises InvalidInput (403) for anything the real API is believed to refuse.
    """
    org_type = params.get("organization_type")
    if org_type is None:
        raise InvalidInput("organization_type is required")
    if org_type not in ORGANIZATION_TYPES:
        raise InvalidInput("organization_type must be Network or Advertiser")
    org_id = params.get("id")
    if org_id is None or not org_id.strip():
        raise InvalidInput("id is required")
    if org_id.strip() != invoca_id or org_type != organization_type:
        raise InvalidInput(f"no access to {org_type} {org_id}")

    calling = params.get("calling_phone_number")
    destination = params.get("destination_phone_number")
    if (calling is None) != (destination is None):
        raise InvalidInput(
            "calling_phone_number and destination_phone_number must be given together"
        )
    calling_digits = destination_digits = None
    if calling is not None:
        calling_digits, destination_digits = phone_digits(calling), phone_digits(destination)
        if not calling_digits or not destination_digits:
            raise InvalidInput("phone numbers must contain digits")

    def optional(name: str) -> str | None:
        value = params.get(name)
        if value is not None and not value.strip():
            raise InvalidInput(f"{name} must not be blank")
        return value

    return CallFilter(
        transaction_id=optional("transaction_id"),
        external_unique_id=optional("external_unique_id"),
        call_record_id=optional("call_record_id"),
        calling_digits=calling_digits,
        destination_digits=destination_digits,
    )
