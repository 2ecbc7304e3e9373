from __future__ import annotations

import pytest

from calls.phones import phone_e164, phone_format_human, phone_mask, phone_parse


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+13105550147", "+13105550147"),
        ("866-555-1234", "+18665551234"),
        ("8005551234", "+18005551234"),
        ("18005551234", "+18005551234"),
        ("(212) 555-0163", "+12125550163"),
        ("800-555-1234,,99#", "+18005551234"),  # dial codes after the number
        ("8005551234x12", "+18005551234"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_numbers_become_e164_and_keep_their_raw_form(raw, e164):
    phone = phone_parse(raw)
    assert (phone.raw, phone.e164, phone.best) == (raw, e164, e164)


@pytest.mark.parametrize(
    "raw", ["", "anonymous", "RESTRICTED", "12", "+", "*67", "0000000000000000"]
)
def test_unparseable_numbers_are_kept_raw(raw):
    phone = phone_parse(raw)
    assert (phone.raw, phone.e164, phone.best) == (raw, "", raw)


def test_search_text_in_any_format_matches_storage():
    assert phone_e164("310.555.0147") == phone_e164("+1 (310) 555-0147") == "+13105550147"


def test_display_helpers():
    assert phone_format_human("+13105550147") == "(310) 555-0147"
    assert phone_format_human("+442079460958") == "+44 20 7946 0958"
    assert phone_format_human("anonymous") == "anonymous"
    assert phone_mask("+13105550147") == "•••• 0147"
