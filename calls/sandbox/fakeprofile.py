"""Invented custom data and Enhanced Caller Profile (demographics) values.

Field names are what a customer might configure; sources come from the documented list, plus an
invented name for the Real-Time Routing Webhook, whose real source name is unknown.
"""

from __future__ import annotations

import random
import string
from typing import Any

DOCUMENTED_SOURCES = (
    "UserOverride",
    "Api",
    "Import",
    "DynamicAttribution",
    "LookupTable",
    "Expression",
    "Ivr",
    "VirtualLine",
    "AffiliateCampaign",
    "AdvertiserCampaign",
    "Affiliate",
    "Advertiser",
    "Network",
    "AI",
    "Default",
    "Syndicated",
)
# Invoca never documented the source name of its Real-Time Routing Webhook: invent one.
ROUTING_WEBHOOK_SOURCE = "RealTimeRoutingWebhook"

ECP_KEYS = tuple(
    f"{name}_data_append"
    for name in (
        "display_name",
        "first_name",
        "last_name",
        "age_range",
        "gender",
        "address_type",
        "address_full_street",
        "address_city",
        "address_state",
        "address_zip",
        "address_country",
        "carrier",
        "line_type",
        "is_prepaid",
        "primary_email_address",
        "linked_email_addresses",
        "household_income",
        "marital_status",
        "home_owner_status",
        "home_market_value",
        "length_of_residence_years",
        "occupation",
        "education",
        "has_children",
        "high_net_worth",
    )
)
FIRST_NAMES = (
    "Maria",
    "James",
    "Aisha",
    "Wei",
    "Olivia",
    "Mateo",
    "Priya",
    "Noah",
    "Fatima",
    "Liam",
    "Sofia",
    "Kenji",
)
LAST_NAMES = (
    "Gonzalez",
    "Smith",
    "Khan",
    "Chen",
    "Johnson",
    "Rossi",
    "Patel",
    "Nguyen",
    "O'Brien",
    "Kowalski",
)
STREETS = (
    "1200 W 7th St",
    "48 Atlantic Ave",
    "901 N Michigan Ave",
    "77 Elm St Apt 4B",
    "3150 Peachtree Rd NE",
    "15 Harbor View Dr",
)
CARRIERS = (
    "T-Mobile USA, Inc.",
    "Verizon Wireless",
    "AT&T Mobility",
    "Comcast Phone",
    "Google Voice",
)
EDUCATION = (
    "Completed High School",
    "Completed College",
    "Completed Graduate School",
    "Attended Vocational/Technical",
)


def _pick(rng: random.Random, options: tuple[Any, ...]) -> Any:
    return options[rng.randrange(len(options))]


def _token(rng: random.Random, length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(alphabet[rng.randrange(len(alphabet))] for _ in range(length))


# name -> (source, value maker). Names are customer-chosen in real accounts.
CUSTOM_FIELDS: dict[str, tuple[str, Any]] = {
    "utm_source": (
        "DynamicAttribution",
        lambda r: _pick(r, ("google", "facebook", "bing", "newsletter", "tiktok")),
    ),
    "utm_medium": ("DynamicAttribution", lambda r: _pick(r, ("cpc", "social", "email", "organic"))),
    "utm_campaign": (
        "DynamicAttribution",
        lambda r: _pick(r, ("auto-brand", "spring-sale", "retarget-30d", "q4-tv")),
    ),
    "GCLID": ("DynamicAttribution", lambda r: "Cj0KCQiA" + _token(r, r.randrange(19, 60))),
    "landing_page": (
        "DynamicAttribution",
        lambda r: f"https://www.example.com/quote?step={r.randrange(1, 5)}",
    ),
    "product_line": (
        "VirtualLine",
        lambda r: _pick(r, ("auto", "home", "life", "solar", "medicare")),
    ),
    "lead_type": ("LookupTable", lambda r: _pick(r, ("cold", "warm", "warm", "existing_customer"))),
    "caller_intent": ("Ivr", lambda r: _pick(r, ("new quote", "billing", "claims", "cancel"))),
    "policy_expiring": ("Ivr", lambda r: r.random() < 0.4),
    "zip_from_ivr": ("Ivr", lambda r: f"{r.randrange(10000, 99999)}"),
    "promo_code": ("Expression", lambda r: _pick(r, ("SAVE20", "FREEQUOTE", "TV2026", ""))),
    "customer_tier": ("Api", lambda r: _pick(r, ("gold", "silver", "bronze", None))),
    "crm_account_id": (
        "Api",
        lambda r: f"A-{r.randrange(10**6):06d}" if r.random() < 0.6 else None,
    ),
    "campaign_priority": ("AdvertiserCampaign", lambda r: _pick(r, ("high", "normal"))),
    "affiliate_sub_id": ("AffiliateCampaign", lambda r: f"sub{r.randrange(1000)}"),
    "affiliate_tier": ("Affiliate", lambda r: _pick(r, ("platinum", "standard"))),
    "advertiser_vertical": ("Advertiser", lambda r: _pick(r, ("insurance", "home services"))),
    "network_region": ("Network", lambda r: _pick(r, ("us-east", "us-west", "us-central"))),
    "preferred_language": ("Default", lambda r: _pick(r, ("en", "en", "es"))),
    "syndicated_partner": ("Syndicated", lambda r: _pick(r, ("PartnerOne", "CallNet"))),
    "agent_override": ("UserOverride", lambda r: _pick(r, ("vip", "do-not-transfer"))),
    "import_batch": ("Import", lambda r: f"2026-11-{r.randrange(1, 29):02d}-batch"),
}
AI_SUMMARIES = (
    "Wants a quote for two cars",
    "Asking about an unpaid bill",
    "Comparing plans before open enrollment",
    "Moving next month, needs estimate",
)
SKILL_GROUPS = ("auto-english", "auto-spanish", "home-general", "retention", "premium")


def custom_entry(value: Any, source: str) -> dict[str, Any]:
    return {"value": value, "source": source}


def custom_data(rng: random.Random, count: int) -> dict[str, dict[str, Any]]:
    names = rng.sample(sorted(CUSTOM_FIELDS), count)
    data = {}
    for name in names:
        source, make = CUSTOM_FIELDS[name]
        data[name] = custom_entry(make(rng), source)
    return data


def routing_values(rng: random.Random) -> dict[str, Any]:
    """What a Real-Time Routing Webhook writes back a few seconds after the bridge."""
    values: dict[str, Any] = {
        "routing_score": str(rng.randrange(0, 101)),
        "agent_skill_group": _pick(rng, SKILL_GROUPS),
    }
    if rng.random() < 0.4:
        values["routing_decision"] = _pick(rng, ("premium_queue", "standard_queue", "callback"))
    return values


def demographics(rng: random.Random, city: str, region: str, zip_code: str) -> dict[str, Any]:
    """A full 25-key ECP block; unknown strings are "" as in the documented examples."""
    first, last = _pick(rng, FIRST_NAMES), _pick(rng, LAST_NAMES)
    values: dict[str, Any] = {
        "display_name": f"{first} {last}",
        "first_name": first,
        "last_name": last,
        "age_range": _pick(rng, ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")),
        "gender": _pick(rng, ("Female", "Male", "")),
        "address_type": "Street or Residential Address",
        "address_full_street": _pick(rng, STREETS),
        "address_city": city,
        "address_state": region,
        "address_zip": zip_code,
        "address_country": "US",
        "carrier": _pick(rng, CARRIERS),
        "line_type": _pick(rng, ("Mobile", "Landline", "VoIP")),
        "is_prepaid": rng.random() < 0.2,
        "primary_email_address": f"{first.lower()}.{last.lower()}@example.com".replace("'", ""),
        "linked_email_addresses": "",
        "household_income": _pick(rng, ("<25k", "25k-50k", "50k-75k", "75k-100k", "100k-150k")),
        "marital_status": _pick(rng, ("Married", "Single", "")),
        "home_owner_status": _pick(rng, ("Owner", "Renter", "")),
        "home_market_value": _pick(rng, ("<250k", "250k-500k", "500k-750k", "750k-1M")),
        "length_of_residence_years": f"{rng.randrange(1, 30)} years",
        "occupation": _pick(rng, ("Teacher", "Nurse", "Engineer", "Retired", "")),
        "education": _pick(rng, EDUCATION),
        "has_children": rng.random() < 0.45,
        "high_net_worth": None if rng.random() < 0.5 else rng.random() < 0.2,
    }
    block: dict[str, Any] = {}
    for key, value in values.items():
        unknown = isinstance(value, str) and rng.random() < 0.12
        block[f"{key}_data_append"] = "" if unknown else value
    return block
