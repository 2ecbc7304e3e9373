"""Highlight rules, masking, demographics grouping and the snapshot timeline (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calls.models import Call, CallSnapshot, HighlightRule, Organization, Role
from calls.presentation import (
    badges_for,
    caller_of,
    demographics_groups,
    duration_text,
    ecp_summary,
    highlight_matches,
    snapshot_timeline,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def a_call(**custom: object) -> Call:
    return Call(
        organization=Organization(name="o"),
        custom_data={name: {"value": value, "source": "Api"} for name, value in custom.items()},
        demographics={"high_net_worth_data_append": True, "address_city_data_append": "Reno"},
    )


def rule(**fields: object) -> HighlightRule:
    return HighlightRule(**{"field": "lead_type", "label": "HOT LEAD", **fields})


@pytest.mark.parametrize(
    ("operator", "value", "custom", "matches"),
    [
        ("equals", "hot", {"lead_type": "HOT "}, True),
        ("equals", "hot", {"lead_type": "hotter"}, False),
        ("contains", "ot", {"lead_type": "hotter"}, True),
        ("contains", "", {"lead_type": "hotter"}, False),
        ("present", "", {"lead_type": "x"}, True),
        ("present", "", {"lead_type": ""}, False),
        ("present", "", {"lead_type": None}, False),
        ("present", "", {"lead_type": False}, False),
        ("equals", "hot", {}, False),
        ("equals", "yes", {"lead_type": True}, True),
    ],
)
def test_custom_field_rules(operator: str, value: str, custom: dict, matches: bool) -> None:
    assert (
        highlight_matches(rule=rule(operator=operator, value=value), call=a_call(**custom))
        is matches
    )


def test_demographics_rules_match_with_or_without_suffix_and_hide_from_restricted() -> None:
    call = a_call()
    wealthy = rule(scope="demographics", field="high_net_worth", operator="present", label="HNW")
    city = rule(scope="demographics", field="address_city_data_append", value="reno", label="NV")
    assert [b.label for b in badges_for(call=call, rules=[wealthy, city], role=Role.AGENT)] == [
        "HNW",
        "NV",
    ]
    assert badges_for(call=call, rules=[wealthy, city], role=Role.RESTRICTED) == ()


def test_caller_is_formatted_or_masked() -> None:
    shown = caller_of(number="+13105550147", role=Role.AGENT)
    assert (shown.number, shown.masked) == ("(310) 555-0147", False)
    assert shown.place == "California"
    masked = caller_of(number="+13105550147", role=Role.RESTRICTED)
    assert masked.number == "•••• 0147" and masked.place == "" and masked.masked
    assert caller_of(number="anonymous", role=None).number == "anonymous"


def test_ecp_summary_and_groups() -> None:
    demographics = {
        "first_name_data_append": "Ana",
        "last_name_data_append": "Ruiz",
        "address_city_data_append": "Reno",
        "address_state_data_append": "NV",
        "has_children_data_append": False,
        "brand_new_key": "kept",
        "gender_data_append": "",
    }
    assert ecp_summary(demographics) == ("Ana Ruiz", "Reno, NV")
    groups = {
        group.title: [(f.name, f.value) for f in group.fields]
        for group in demographics_groups(demographics)
    }
    assert groups == {
        "Identity": [("First name", "Ana"), ("Last name", "Ruiz")],
        "Address": [("Address city", "Reno"), ("Address state", "NV")],
        "Household": [("Has children", "no")],
        "Other": [("Brand new key", "kept")],
    }


def test_timeline_lists_changes_between_snapshots() -> None:
    def snap(seconds: int, **custom: str) -> CallSnapshot:
        return CallSnapshot(
            observed_at=T0 + timedelta(seconds=seconds),
            call_status="bridged",
            custom_data={name: {"value": value, "source": "Api"} for name, value in custom.items()},
            demographics={"gender_data_append": "F"},
        )

    entries = snapshot_timeline(
        snapshots=[snap(2), snap(6, queue="claims"), snap(9, queue="billing")],
        bridge_start_time=T0,
        restricted=True,
    )
    assert [e.seconds_after_bridge for e in entries] == [2, 6, 9]
    assert entries[0].first and entries[0].changes == ()
    assert [(c.what, c.before, c.after) for c in entries[1].changes] == [
        ("custom · queue", "", "claims")
    ]
    assert [(c.what, c.before, c.after) for c in entries[2].changes] == [
        ("custom · queue", "claims", "billing")
    ]
    assert all("ECP" not in c.what for e in entries for c in e.changes)


def test_duration_text() -> None:
    assert duration_text(-5) == "0:00"
    assert duration_text(65) == "1:05"
    assert duration_text(3725) == "1:02:05"
