"""Phone numbers: E.164 for storage and matching, human formats and offline facts for display.

phonenumbers is slow per parse and a poll repeats the same numbers every few seconds, so
parsing is memoised on the raw text; so are the display facts, which every render of the live
list asks again for the same few hundred numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import carrier, geocoder
from phonenumbers.phonenumberutil import NumberParseException, PhoneNumberType

DEFAULT_REGION = "US"
# Invoca's destination numbers may carry dial codes after the number (pauses, an extension
# to key in): the number is what comes before the first of them.
_DIAL_EXTRAS = re.compile(r"[#*,]")

_LINE_TYPES = {
    PhoneNumberType.MOBILE: "Mobile",
    PhoneNumberType.FIXED_LINE: "Landline",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "Landline or mobile",
    PhoneNumberType.TOLL_FREE: "Toll-free",
    PhoneNumberType.VOIP: "VoIP",
    PhoneNumberType.PREMIUM_RATE: "Premium rate",
    PhoneNumberType.SHARED_COST: "Shared cost",
    PhoneNumberType.PERSONAL_NUMBER: "Personal",
    PhoneNumberType.PAGER: "Pager",
    PhoneNumberType.UAN: "UAN",
    PhoneNumberType.VOICEMAIL: "Voicemail",
}


@dataclass(frozen=True, slots=True)
class Phone:
    """A number as Invoca sent it, and its E.164 form when it could be parsed ("" if not)."""

    raw: str
    e164: str

    @property
    def best(self) -> str:
        return self.e164 or self.raw


@lru_cache(maxsize=65536)
def phone_parse(raw: str, region: str = DEFAULT_REGION) -> Phone:
    text = raw.strip()
    if not text:
        return Phone(raw=raw, e164="")
    number_part = _DIAL_EXTRAS.split(text, maxsplit=1)[0].strip() or _DIAL_EXTRAS.sub("", text)
    try:
        number = phonenumbers.parse(number_part, region)
    except NumberParseException:
        return Phone(raw=raw, e164="")
    if not phonenumbers.is_possible_number(number):
        return Phone(raw=raw, e164="")
    return Phone(
        raw=raw, e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    )


def phone_e164(raw: str) -> str:
    """E.164 for a user's search text in any format, or "" when it is not a number."""
    return phone_parse(raw).e164


@lru_cache(maxsize=65536)
def _parsed(e164: str) -> phonenumbers.PhoneNumber | None:
    """A stored E.164 number; None for anything else (a withheld or unparsed number)."""
    if not e164.startswith("+"):
        return None
    try:
        return phonenumbers.parse(e164, None)
    except NumberParseException:
        return None


@lru_cache(maxsize=65536)
def phone_format_human(number: str) -> str:
    """National format at home (US), international otherwise; unparseable text as it came."""
    parsed = _parsed(number)
    if parsed is None:
        return number
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if parsed.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)


@lru_cache(maxsize=65536)
def phone_place(number: str) -> str:
    """City/region or country for a number, from phonenumbers' offline geocoder data."""
    parsed = _parsed(number)
    if parsed is None:
        return ""
    return str(geocoder.description_for_number(parsed, "en"))


@lru_cache(maxsize=65536)
def phone_line_type(number: str) -> str:
    parsed = _parsed(number)
    if parsed is None:
        return ""
    kind = _LINE_TYPES.get(phonenumbers.number_type(parsed), "")
    name = carrier.name_for_number(parsed, "en")
    return f"{kind} · {name}" if kind and name else kind or str(name)


def phone_mask(number: str) -> str:
    """Only the last four digits, for restricted viewers."""
    digits = [c for c in number if c.isdigit()]
    if len(digits) <= 4:
        return "•" * len(digits)
    return "•••• " + "".join(digits[-4:])
