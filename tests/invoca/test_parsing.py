"""Every shape invoca-api.md marks unsure, parsed into typed, immutable calls."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone

import pytest

from calls.invoca import BadResponse, CurrentCall, current_calls_parse
from tests.factories import call_payload
from tests.invoca.conftest import samples


def parse_one(payload) -> CurrentCall:
    result = current_calls_parse({"current_calls": [payload]})
    assert not result.rejected, result.rejected
    return result.calls[0]


def test_full_sample_with_demographics_nested_in_custom_data():
    body = samples()["full_with_nested_ecp"]
    result = current_calls_parse(body)
    assert result.clean
    call = result.calls[0]
    raw = body["current_calls"][0]
    assert call.transaction_id == raw["transaction_id"]
    assert call.calling_phone.e164 == "+13105550147"
    nested = raw["custom_data"]["demographics_data"]
    assert dict(call.demographics) == nested
    assert "demographics_data" not in call.custom_data
    named = [name for name in raw["custom_data"] if name != "demographics_data"]
    assert sorted(call.custom_data) == sorted(named)
    assert call.bridge_start_time == datetime(2026, 11, 23, 17, 14, 7, tzinfo=UTC)
    assert call.start_time == datetime(2026, 11, 23, 17, 13, 41, tzinfo=UTC)
    assert call.general["advertiser_name"] == "Harbor Auto Insurance"


def test_top_level_demographics_and_dashed_numbers():
    call = current_calls_parse(samples()["top_level_ecp_and_dashed_numbers"]).calls[0]
    assert call.demographics["first_name_data_append"] == "James"
    assert call.calling_phone.raw == "212-555-0163"
    assert call.calling_phone.e164 == "+12125550163"
    assert call.destination_phone.e164 == "+18005550188"
    assert call.custom_data["routing_score"].value == "87"
    assert call.custom_data["routing_score"].source == "Api"


def test_demographics_in_both_places_are_merged():
    payload = call_payload(
        "T1",
        custom_data={"demographics_data": {"gender_data_append": "F", "carrier_data_append": "X"}},
        demographics_data={"carrier_data_append": "Verizon", "has_children_data_append": True},
    )
    call = parse_one(payload)
    assert dict(call.demographics) == {
        "gender_data_append": "F",
        "carrier_data_append": "Verizon",
        "has_children_data_append": True,
    }


def test_slim_attribution_payload():
    call = current_calls_parse(samples()["attribution_only"]).calls[0]
    assert call.custom_data == {} and call.demographics == {}
    assert call.phone_type == "Landline"
    assert call.external_unique_id == ""


def test_no_calls():
    result = current_calls_parse(samples()["no_calls"])
    assert result.calls == () and result.clean


def test_only_a_transaction_id():
    call = parse_one({"transaction_id": "ONLY"})
    assert call.call_status == "" and call.call_record_id == ""
    assert call.calling_phone.raw == "" and call.calling_phone.e164 == ""
    assert call.bridge_start_time is None and call.start_time is None
    assert call.custom_data == {} and call.demographics == {} and call.general == {}


def test_every_field_null():
    names = [
        "call_record_id", "external_unique_id", "call_status", "calling_phone_number",
        "destination_phone_number", "called_phone_number", "phone_type", "bridge_start_time",
        "start_time", "custom_data", "demographics_data", "city", "keypresses", "affiliate_id",
    ]  # fmt: skip
    call = parse_one({"transaction_id": "NULLS", **dict.fromkeys(names)})
    assert call.custom_data == {} and call.demographics == {}
    assert call.bridge_start_time is None
    assert call.general == {"city": "", "keypresses": "", "affiliate_id": ""}


@pytest.mark.parametrize("empty", [None, {}, [], ""])
def test_empty_custom_data_in_any_spelling(empty):
    call = parse_one(call_payload("T1", custom_data=empty, demographics_data=empty))
    assert call.custom_data == {} and call.demographics == {}


def test_ids_as_numbers_are_text():
    payload = call_payload("X", call_record_id=987, advertiser_id=45821)
    payload["transaction_id"] = 1234567
    call = parse_one(payload)
    assert call.transaction_id == "1234567"
    assert call.call_record_id == "987"
    assert call.general["advertiser_id"] == "45821"


def test_old_time_field_names():
    payload = call_payload("OLD", call_start_time_utc="2022-12-10T13:45:00.000Z")
    del payload["bridge_start_time"]
    payload["transfer_start_time_utc"] = "2022-12-10T13:46:30.000Z"
    call = parse_one(payload)
    assert call.start_time == datetime(2022, 12, 10, 13, 45, tzinfo=UTC)
    assert call.bridge_start_time == datetime(2022, 12, 10, 13, 46, 30, tzinfo=UTC)


def test_times_keep_their_offset_and_bad_times_are_none():
    call = parse_one(call_payload("T", bridge_start_time="2026-11-23T09:14:07-08:00"))
    assert call.bridge_start_time is not None
    assert call.bridge_start_time.utcoffset() == timedelta(hours=-8)
    assert call.bridge_start_time == datetime(
        2026, 11, 23, 9, 14, 7, tzinfo=timezone(timedelta(hours=-8))
    )
    assert parse_one(call_payload("T", bridge_start_time="yesterday")).bridge_start_time is None
    assert parse_one(call_payload("T", bridge_start_time=1700000000)).bridge_start_time is None


@pytest.mark.parametrize(
    "sent",
    [
        "0001-01-01T00:00:00+01:00",  # before the calendar's first day in UTC
        "9999-12-31T23:59:59-01:00",  # after its last
        "0001-01-01T12:00:00Z",  # in range, but not in a time zone west of UTC
        "9999-12-31T12:00:00",
    ],
)
def test_times_at_the_ends_of_the_calendar_are_none(sent):
    call = parse_one(call_payload("T", bridge_start_time=sent, start_time=sent))
    assert call.bridge_start_time is None and call.start_time is None
    assert call.payload["start_time"] == sent


def test_times_near_the_ends_of_the_calendar_are_kept():
    early = parse_one(call_payload("T", start_time="0001-01-03T00:00:00+00:00")).start_time
    late = parse_one(call_payload("T", start_time="9999-12-28T19:00:00-05:00")).start_time
    assert early == datetime(1, 1, 3, tzinfo=UTC)
    assert late == datetime(9999, 12, 29, tzinfo=UTC)


def test_unknown_status_and_source_values_are_kept():
    call = parse_one(
        call_payload(
            "T",
            call_status="on_hold_somewhere",
            custom_data={"score": {"value": 7, "source": "RealTimeRoutingWebhook"}},
        )
    )
    assert call.call_status == "on_hold_somewhere"
    assert call.custom_data["score"].source == "RealTimeRoutingWebhook"
    assert call.custom_data["score"].value == 7


def test_custom_values_of_every_json_type():
    call = parse_one(
        call_payload(
            "T",
            custom_data={
                "flag": {"value": True, "source": "Api"},
                "nothing": {"value": None, "source": "Default"},
                "bare": "just a value",
                "nested": {"value": {"a": [1, 2]}, "source": "Api"},
            },
        )
    )
    assert call.custom_data["flag"].value is True
    assert call.custom_data["nothing"].value is None
    assert (call.custom_data["bare"].value, call.custom_data["bare"].source) == ("just a value", "")
    assert call.custom_data["nested"].value == '{"a": [1, 2]}'


@pytest.mark.parametrize("raw", ["anonymous", "Restricted", "12", "+", "x" * 30])
def test_unparseable_numbers_are_kept_raw(raw):
    call = parse_one(call_payload("T", calling_phone_number=raw))
    assert call.calling_phone.raw == raw and call.calling_phone.e164 == ""
    assert call.calling_phone.best == raw


def test_numbers_as_json_numbers():
    call = parse_one(call_payload("T", calling_phone_number=13105550147))
    assert call.calling_phone.e164 == "+13105550147"


def test_calls_are_immutable():
    call = parse_one(call_payload("T"))
    with pytest.raises(AttributeError):
        call.call_status = "ended"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        call.transaction_id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        call.custom_data["x"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        call.payload["transaction_id"] = "other"  # type: ignore[index]


def test_the_content_hash_follows_content_only():
    a = call_payload("T")
    same = copy.deepcopy(a)
    same_reordered = dict(reversed(list(a.items())))
    changed = call_payload("T", custom_data={"utm_source": {"value": "bing", "source": "Api"}})
    hashes = [parse_one(p).content_hash for p in (a, same, same_reordered, changed)]
    assert hashes[0] == hashes[1] == hashes[2] != hashes[3]


def test_bad_entries_are_left_out_and_the_answer_is_not_clean():
    body = {
        "current_calls": [
            call_payload("GOOD"),
            "this is not a call",
            {"call_status": "bridged"},
            call_payload("BADCUSTOM", custom_data="oops"),
            call_payload("GOOD2"),
        ]
    }
    result = current_calls_parse(body)
    assert [c.transaction_id for c in result.calls] == ["GOOD", "GOOD2"]
    assert len(result.rejected) == 3 and not result.clean
    assert all("oops" not in reason for reason in result.rejected)


def test_a_repeated_transaction_keeps_the_first():
    result = current_calls_parse(
        {"current_calls": [call_payload("T", call_status="a"), call_payload("T", call_status="b")]}
    )
    assert [c.call_status for c in result.calls] == ["a"]
    assert result.notes and result.clean


def test_partial_body_with_202_and_reason():
    result = current_calls_parse(samples()["partial_202_body_early_draft"], http_status=202)
    assert result.partial and "UnreachableRegion" in result.partial_reason


@pytest.mark.parametrize("body", [None, [], "x", {"errors": {"class": "InvalidInput"}}])
def test_wrong_top_level_shapes(body):
    with pytest.raises(BadResponse):
        current_calls_parse(body)
