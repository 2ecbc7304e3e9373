"""Invented but plausible field values for fake Calls In Progress payloads.

Every quirk that the API documentation leaves open (phone formats, ids as numbers, old time
names, nulls versus missing keys, ECP nested or top-level) is produced here on purpose, so the
product meets all of them in demos and tests. Only stdlib; the caller passes the random source.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

# Crockford-style alphabet: a subset of the documented 0-9A-Z for transaction ids.
_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_HEX = "0123456789ABCDEF"

# Keys never nulled or dropped: without them a generated call would be useless to the product.
_PROTECTED_KEYS = frozenset(
    {
        "transaction_id",
        "call_status",
        "bridge_start_time",
        "transfer_start_time_utc",
        "custom_data",
        "demographics_data",
    }
)
_NUMERIC_ID_KEYS = ("advertiser_id", "affiliate_id", "advertiser_campaign_id", "promo_number_id")

# (city, region, zip, area code, qualified region)
PLACES = (
    ("Los Angeles", "CA", "90012", "310", "West Coast"),
    ("Brooklyn", "NY", "11201", "718", "Northeast"),
    ("Chicago", "IL", "60601", "312", "Midwest"),
    ("Houston", "TX", "77002", "713", "South"),
    ("Miami", "FL", "33130", "305", "Southeast"),
    ("Seattle", "WA", "98101", "206", "West Coast"),
    ("Denver", "CO", "80202", "303", "Mountain"),
    ("Boston", "MA", "02108", "617", "Northeast"),
    ("Atlanta", "GA", "30303", "404", "Southeast"),
    ("Phoenix", "AZ", "85004", "602", "Southwest"),
)
ADVERTISERS = (
    ("45821", "Harbor Auto Insurance", "HAI-01", "auto"),
    ("45907", "Summit Home Security", "SHS-07", "home"),
    ("46012", "BrightPath Solar", "BPS", "solar"),
    ("46150", "Evergreen Medicare Plans", "EMP-22", "medicare"),
    ("46233", "Metro Moving Co", "MMC", "moving"),
)
CAMPAIGNS = ("Q4 Quote Line", "Spring Promo", "Brand Search", "Retargeting 30d", "TV Regional")
AFFILIATES = (
    ("9921", "QuoteFinder Media", "QFM"),
    ("9934", "CallBridge Partners", "CBP"),
    ("9950", "LeadRiver", "LR"),
    ("9987", "Northstar Performance", "NSP"),
)
RANKINGS = ("Top 10%", "Top 25%", "Top 50%", "Bottom 50%")
PROMO_DESCRIPTIONS = (
    "Paid search - brand",
    "Paid search - generic",
    "Facebook ads",
    "TV spot - regional",
    "Direct mail",
    "Organic - website header",
)
INTERNATIONAL_NUMBERS = (
    "+442071838750",
    "+33142685300",
    "+4930901820",
    "+61292507111",
    "+525555550123",
)
UNPARSEABLE_NUMBERS = ("anonymous", "Restricted", "", "Unavailable", "0")
UNUSUAL_STATUSES = ("transferring", "on_hold", "conference")


_Option = TypeVar("_Option")


def _pick(rng: random.Random, options: tuple[_Option, ...]) -> _Option:
    return options[rng.randrange(len(options))]


def new_transaction_id(rng: random.Random) -> str:
    """25 characters of 0-9A-Z and one dash, like the documented examples."""
    chars = "".join(_ID_ALPHABET[rng.randrange(32)] for _ in range(24))
    return f"{chars[:12]}-{chars[12:]}"


def new_call_record_id(rng: random.Random) -> str:
    head = "".join(_ID_ALPHABET[rng.randrange(32)] for _ in range(3))
    tail = "".join(_HEX[rng.randrange(16)] for _ in range(12))
    return f"Z{head}-{tail}"


def fictional_local_number(rng: random.Random, area_code: str) -> str:
    """Ten NANP digits in the 555-01XX range, reserved for fiction."""
    return f"{area_code}55501{rng.randrange(100):02d}"


def format_us_number(rng: random.Random, ten_digits: str) -> str:
    """One of the formats the API accepts and, per its docs, may also return."""
    a, b, c = ten_digits[:3], ten_digits[3:6], ten_digits[6:]
    style = rng.random()
    if style < 0.50:
        return f"+1{ten_digits}"
    if style < 0.65:
        return f"{a}-{b}-{c}"
    if style < 0.78:
        return ten_digits
    if style < 0.88:
        return f"1{ten_digits}"
    return f"({a}) {b}-{c}"


def caller_number(rng: random.Random, area_code: str) -> str:
    roll = rng.random()
    if roll < 0.07:
        return _pick(rng, INTERNATIONAL_NUMBERS)
    if roll < 0.14:
        return _pick(rng, UNPARSEABLE_NUMBERS)
    return format_us_number(rng, fictional_local_number(rng, area_code))


def destination_number(rng: random.Random) -> str:
    digits = f"888555{rng.randrange(10000):04d}"
    roll = rng.random()
    if roll < 0.08:  # the documented character set allows extensions and dial pauses
        return f"{digits}x{rng.randrange(100, 999)}"
    if roll < 0.12:
        return f"{digits},,{rng.randrange(1, 9)}"
    return format_us_number(rng, digits)


def format_local_time(moment: datetime, tz: timezone) -> str:
    """ISO-8601 with offset, as `start_time` / `bridge_start_time` are documented."""
    return moment.astimezone(tz).isoformat(timespec="seconds")


def format_old_utc_time(moment: datetime) -> str:
    """The early-draft `*_utc` style: `2022-12-10T13:45:00.000Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def general_fields(rng: random.Random, place: tuple[str, str, str, str, str]) -> dict[str, Any]:
    """Campaign, promo, place and IVR fields of one call."""
    adv_id, adv_name, adv_net_id, _vertical = _pick(rng, ADVERTISERS)
    aff_id, aff_name, aff_net_id = _pick(rng, AFFILIATES)
    campaign = _pick(rng, CAMPAIGNS)
    city, region, zip_code, _area, qualified = place
    presses = [str(rng.randrange(1, 10)) for _ in range(rng.randrange(0, 5))]
    fields: dict[str, Any] = {
        "external_unique_id": None if rng.random() < 0.7 else f"crm-{rng.randrange(10**7):07d}",
        "called_phone_number": f"+1855717{rng.randrange(10000):04d}",
        "phone_type": _pick(rng, ("Mobile", "Mobile", "Landline", "")),
        "repeat_calling_phone_number": _pick(rng, ("false", "true", False, True)),
        "advertiser_id": adv_id,
        "advertiser_name": adv_name,
        "advertiser_id_from_network": adv_net_id,
        "advertiser_campaign_id": str(310000 + rng.randrange(1000)),
        "advertiser_campaign_name": campaign,
        "advertiser_campaign_id_from_network": f"{adv_net_id}-{campaign.split()[0].upper()}",
        "advertiser_campaign_country": "USA",
        "affiliate_id": aff_id,
        "affiliate_name": aff_name,
        "affiliate_id_from_network": aff_net_id,
        "affiliate_campaign_id_from_network": f"{aff_net_id}-{rng.randrange(100):02d}",
        "affiliate_commissions_ranking": _pick(rng, RANKINGS),
        "affiliate_conversion_rate_ranking": _pick(rng, RANKINGS),
        "affiliate_volume_ranking": _pick(rng, RANKINGS),
        "promo_number_id": str(7730000 + rng.randrange(10000)),
        "promo_number_description": _pick(rng, PROMO_DESCRIPTIONS),
        "media_type": _pick(rng, ("Online", "Offline", "Call Extension", "Display")),
        "source": _pick(rng, ("Web", "TV", "Radio", "Print", "Search")),
        "city": city,
        "region": region,
        "qualified_regions": qualified,
        "zip_code": zip_code,
        "verified_zip_code": zip_code if rng.random() < 0.8 else "",
        "keypresses": ",".join(presses),
    }
    for index in range(4):
        fields[f"keypress_{index + 1}"] = presses[index] if index < len(presses) else None
    return fields


def numbers_as_json_numbers(call: dict[str, Any]) -> None:
    """Some accounts see ids as JSON numbers instead of strings."""
    for key in _NUMERIC_ID_KEYS:
        value = call.get(key)
        if isinstance(value, str) and value.isdigit():
            call[key] = int(value)


def punch_gaps(rng: random.Random, call: dict[str, Any], rate: float = 0.06) -> None:
    """Null some values and drop other keys: the docs do not say which one Invoca does."""
    for key in list(call):
        if key in _PROTECTED_KEYS:
            continue
        roll = rng.random()
        if roll < rate:
            call[key] = None
        elif roll < 2 * rate:
            del call[key]


def seconds_before(moment: datetime, rng: random.Random, low: float, high: float) -> datetime:
    return moment - timedelta(seconds=rng.uniform(low, high))
