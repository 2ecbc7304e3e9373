"""How calls are shown: pure functions from stored calls to what the templates print.

Nothing here touches the database or the clock; the views pass in what the selectors read.
Masking and the demographics blackout for restricted viewers happen here, once, so no
template can forget them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from calls.models import Call, CallSnapshot, HighlightOperator, HighlightRule, Role
from calls.phones import phone_format_human, phone_line_type, phone_mask, phone_place

DEMOGRAPHICS_SUFFIX = "_data_append"
# ECP keys grouped the way an agent reads a caller: who, where, what household.
DEMOGRAPHICS_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Identity",
        (
            "display_name",
            "first_name",
            "last_name",
            "age_range",
            "gender",
            "occupation",
            "education",
            "primary_email_address",
            "linked_email_addresses",
        ),
    ),
    (
        "Address",
        (
            "address_full_street",
            "address_city",
            "address_state",
            "address_zip",
            "address_country",
            "address_type",
            "length_of_residence_years",
        ),
    ),
    (
        "Household",
        (
            "household_income",
            "marital_status",
            "has_children",
            "home_owner_status",
            "home_market_value",
            "high_net_worth",
        ),
    ),
    ("Phone line", ("carrier", "line_type", "is_prepaid")),
)
LIST_VALUE_CHARS = 60
# Words that make a payload field (Invoca's `city`, `zip_code`, `qualified_regions`, or a
# customer's own `CallerState`) say where the caller is: restricted viewers see no place of
# the caller, so such fields are left out of every field list they get.
LOCATION_WORDS = frozenset(
    {
        "address",
        "city",
        "country",
        "county",
        "geo",
        "geolocation",
        "ip",
        "lat",
        "latitude",
        "lng",
        "location",
        "lon",
        "longitude",
        "postal",
        "postalcode",
        "postcode",
        "province",
        "region",
        "regions",
        "state",
        "street",
        "town",
        "zip",
        "zipcode",
    }
)
# Words that make a field hold a phone number (`repeat_calling_phone_number`): masked like
# the caller's number for restricted viewers.
PHONE_WORDS = frozenset({"phone", "ani", "msisdn"})
_WORD_BREAK = re.compile(r"[^a-z0-9]+")
# "CallerCity" and "IPAddress" are two words each.
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@dataclass(frozen=True, slots=True)
class Badge:
    label: str
    colour: str


@dataclass(frozen=True, slots=True)
class Caller:
    number: str  # formatted for humans, or masked
    place: str
    line_type: str
    masked: bool


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    value: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class FieldGroup:
    title: str
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Change:
    what: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    observed_at: datetime
    seconds_after_bridge: int | None
    first: bool
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class CallRow:
    call: Call
    caller: Caller
    dialled: str
    campaign: str
    advertiser: str
    pinned: tuple[Field, ...]
    ecp_name: str
    ecp_city: str
    repeat_count: int
    badges: tuple[Badge, ...]
    restricted: bool = field(default=False)
    # A live call no clean poll confirms at present: its last sighting (else None).
    unconfirmed_since: datetime | None = None

    @property
    def timer_start(self) -> datetime:
        """Where the on-call timer counts from: the bridge, else when the feed first showed
        the call."""
        return self.call.bridge_start_time or self.call.first_seen_at

    @property
    def timer_end(self) -> datetime | None:
        """Where the timer stops: the call's end, else its last sighting while unconfirmed;
        None while it runs."""
        return self.call.ended_at or self.unconfirmed_since


def value_text(value: Any) -> str:
    """A JSON scalar as an agent reads it."""
    if value is None:
        return ""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def is_restricted(role: str | None) -> bool:
    return role == Role.RESTRICTED


def number_shown(*, number: str, role: str | None) -> str:
    return phone_mask(number) if is_restricted(role) else phone_format_human(number)


def caller_of(*, number: str, role: str | None) -> Caller:
    shown = number_shown(number=number, role=role)
    if is_restricted(role):
        return Caller(number=shown, place="", line_type="", masked=True)
    return Caller(
        number=shown or "unknown",
        place=phone_place(number),
        line_type=phone_line_type(number),
        masked=False,
    )


@lru_cache(maxsize=4096)
def _field_words(name: str) -> frozenset[str]:
    return frozenset(_WORD_BREAK.split(_CAMEL_HUMP.sub("_", name).lower())) - {""}


def field_hidden(*, name: str, restricted: bool) -> bool:
    """A field restricted viewers never see: a place of the caller."""
    return restricted and not _field_words(name).isdisjoint(LOCATION_WORDS)


def field_values_hidden(*, name: str, restricted: bool) -> bool:
    """A field whose values a restricted viewer never sees in full (a place, or a number the
    pages mask): never a group label for them either."""
    return restricted and not _field_words(name).isdisjoint(LOCATION_WORDS | PHONE_WORDS)


def field_shown(*, name: str, value: str, restricted: bool) -> str | None:
    """A payload field's value as the viewer may see it: None when the field is hidden,
    a phone number masked like the caller's."""
    if not restricted:
        return value
    if field_hidden(name=name, restricted=restricted):
        return None
    if not _field_words(name).isdisjoint(PHONE_WORDS) and any(c.isdigit() for c in value):
        return phone_mask(value)
    return value


def fields_shown(fields: Iterable[Field], *, restricted: bool) -> Iterator[Field]:
    """`fields` as the viewer may see them, hidden ones left out."""
    for entry in fields:
        shown = field_shown(name=entry.name, value=entry.value, restricted=restricted)
        if shown is not None:
            yield Field(name=entry.name, value=shown, source=entry.source)


def custom_value(call: Call | CallSnapshot, name: str) -> Any:
    entry = call.custom_data.get(name)
    return entry.get("value") if isinstance(entry, dict) else entry


def demographics_value(demographics: Mapping[str, Any], key: str) -> Any:
    if key in demographics:
        return demographics[key]
    return demographics.get(key + DEMOGRAPHICS_SUFFIX)


def highlight_matches(*, rule: HighlightRule, call: Call) -> bool:
    if rule.scope == HighlightRule.Scope.DEMOGRAPHICS:
        raw = demographics_value(call.demographics, rule.field)
    else:
        raw = custom_value(call, rule.field)
    text = value_text(raw).strip()
    if rule.operator == HighlightOperator.PRESENT:
        return bool(text) and raw is not False
    wanted = rule.value.strip().casefold()
    if rule.operator == HighlightOperator.CONTAINS:
        return bool(wanted) and wanted in text.casefold()
    return text.casefold() == wanted


def badges_for(
    *, call: Call, rules: Iterable[HighlightRule], role: str | None
) -> tuple[Badge, ...]:
    """Labels of the rules a call matches; rules on demographics or on a hidden field stay
    hidden from restricted viewers, since the label itself would reveal the value."""
    restricted = is_restricted(role)
    return tuple(
        Badge(label=rule.label, colour=rule.colour)
        for rule in rules
        if not (
            restricted
            and (
                rule.scope == HighlightRule.Scope.DEMOGRAPHICS
                or field_hidden(name=rule.field, restricted=True)
            )
        )
        and highlight_matches(rule=rule, call=call)
    )


def ecp_summary(demographics: Mapping[str, Any]) -> tuple[str, str]:
    """(name, city) from the Enhanced Caller Profile, "" where unknown."""
    name = value_text(demographics_value(demographics, "display_name")).strip()
    if not name:
        parts = (
            value_text(demographics_value(demographics, key)).strip()
            for key in ("first_name", "last_name")
        )
        name = " ".join(part for part in parts if part)
    city = value_text(demographics_value(demographics, "address_city")).strip()
    state = value_text(demographics_value(demographics, "address_state")).strip()
    return name, ", ".join(part for part in (city, state) if part)


def call_row(
    *,
    call: Call,
    role: str | None,
    rules: Iterable[HighlightRule],
    repeat_count: int,
    unconfirmed_since: datetime | None = None,
) -> CallRow:
    restricted = is_restricted(role)
    name, city = ("", "") if restricted else ecp_summary(call.demographics)
    general = call.general or {}
    pinned = tuple(
        Field(name=str(name_), value=value_text(custom_value(call, str(name_))))
        for name_ in call.organization.pinned_names
    )
    if restricted:
        pinned = tuple(fields_shown(pinned, restricted=True))
    return CallRow(
        call=call,
        caller=caller_of(number=call.calling_phone_number, role=role),
        dialled=number_shown(number=call.called_phone_number, role=role),
        campaign=general.get("advertiser_campaign_name", "")
        or general.get("promo_number_description", ""),
        advertiser=general.get("advertiser_name", ""),
        pinned=pinned,
        ecp_name=name,
        ecp_city=city,
        repeat_count=repeat_count,
        badges=badges_for(call=call, rules=rules, role=role),
        restricted=restricted,
        unconfirmed_since=unconfirmed_since,
    )


def field_label(name: str) -> str:
    """A payload key as a heading: "bridge_start_time" → "Bridge start time"."""
    return name.replace("_", " ").capitalize()


def demographics_label(key: str) -> str:
    return field_label(key.removesuffix(DEMOGRAPHICS_SUFFIX))


def demographics_groups(demographics: Mapping[str, Any]) -> tuple[FieldGroup, ...]:
    """Known keys in their groups, in reading order; unknown keys last, as they came."""
    by_base = {key.removesuffix(DEMOGRAPHICS_SUFFIX): key for key in demographics}
    used: set[str] = set()
    groups: list[FieldGroup] = []
    for title, bases in DEMOGRAPHICS_GROUPS:
        fields = []
        for base in bases:
            key = by_base.get(base)
            if key is None:
                continue
            used.add(key)
            text = value_text(demographics[key])
            if text:
                fields.append(Field(name=demographics_label(key), value=text))
        if fields:
            groups.append(FieldGroup(title=title, fields=tuple(fields)))
    other = tuple(
        Field(name=demographics_label(key), value=value_text(value))
        for key, value in demographics.items()
        if key not in used and value_text(value)
    )
    if other:
        groups.append(FieldGroup(title="Other", fields=other))
    return tuple(groups)


def custom_fields(custom_data: Mapping[str, Any], *, restricted: bool) -> tuple[Field, ...]:
    """Every custom data field the viewer may see, with its source."""
    fields = []
    for name, entry in custom_data.items():
        if isinstance(entry, dict):
            fields.append(
                Field(
                    name=name,
                    value=value_text(entry.get("value")),
                    source=value_text(entry.get("source")),
                )
            )
        else:
            fields.append(Field(name=name, value=value_text(entry)))
    return tuple(fields_shown(fields, restricted=restricted))


def _flat(snapshot: CallSnapshot, *, restricted: bool) -> dict[str, str]:
    """A snapshot's fields by heading, as the viewer may see them (the same fields and
    masking as the detail page's lists)."""
    flat = {"Status": snapshot.call_status}
    general = (
        Field(name=name, value=value_text(value))
        for name, value in (snapshot.general or {}).items()
    )
    for entry in fields_shown(general, restricted=restricted):
        flat[field_label(entry.name)] = entry.value
    for entry in custom_fields(snapshot.custom_data or {}, restricted=restricted):
        flat[f"custom · {entry.name}"] = entry.value
    if not restricted:
        for key, value in (snapshot.demographics or {}).items():
            flat[f"ECP · {demographics_label(key)}"] = value_text(value)
    return flat


def snapshot_timeline(
    *, snapshots: Iterable[CallSnapshot], bridge_start_time: datetime | None, restricted: bool
) -> tuple[TimelineEntry, ...]:
    """What changed from one stored version of a call to the next, and when."""
    entries: list[TimelineEntry] = []
    previous: dict[str, str] | None = None
    for snapshot in snapshots:
        flat = _flat(snapshot, restricted=restricted)
        if previous is None:
            changes: tuple[Change, ...] = ()
        else:
            names = list(previous) + [name for name in flat if name not in previous]
            changes = tuple(
                Change(what=name, before=previous.get(name, ""), after=flat.get(name, ""))
                for name in names
                if previous.get(name, "") != flat.get(name, "")
            )
        after_bridge = (
            int((snapshot.observed_at - bridge_start_time).total_seconds())
            if bridge_start_time is not None
            else None
        )
        entries.append(
            TimelineEntry(
                observed_at=snapshot.observed_at,
                seconds_after_bridge=after_bridge,
                first=previous is None,
                changes=changes,
            )
        )
        previous = flat
    return tuple(entries)


def duration_text(seconds: float) -> str:
    """ "1:02:03" or "4:05": the no-JavaScript fallback for the ticking timers."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
