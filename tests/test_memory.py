"""calls.memory: the cycle collector is paused once, around the whole poll, and always restored."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from calls.invoca import decoding, parsing
from calls.memory import cycle_collector_paused
from calls.services import ingest, organization_poll, polling
from tests.factories import ApiTokenFactory, OrganizationFactory, call_payload

BASE = "https://acme.invoca.net/api/2022-08-01"
URL = f"{BASE}/calls_in_progress/current_calls.json"


@pytest.fixture
def collector_enabled() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    if not was_enabled:
        gc.disable()


@pytest.mark.usefixtures("collector_enabled")
def test_the_collector_is_paused_inside_and_running_again_after():
    with cycle_collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_enabled")
def test_a_nested_pause_leaves_the_outer_one_in_force():
    with cycle_collector_paused():
        with cycle_collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_enabled")
def test_the_collector_runs_again_after_an_error():
    with pytest.raises(RuntimeError), cycle_collector_paused():
        raise RuntimeError("the work failed")
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with cycle_collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        if was_enabled:
            gc.enable()


def _recording(function: Any, seen: list[bool]) -> Any:
    def recorded(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return function(*args, **kwargs)

    return recorded


@pytest.mark.django_db
@pytest.mark.usefixtures("collector_enabled")
@responses.activate
def test_a_poll_parses_and_writes_with_the_collector_paused(monkeypatch):
    organization = OrganizationFactory.create(api_base_url=BASE)
    ApiTokenFactory.create(organization=organization, secret="tok-123456")
    responses.get(URL, json={"current_calls": [call_payload("A"), call_payload("B")]})
    parsing_saw: list[bool] = []
    writing_saw: list[bool] = []
    monkeypatch.setattr(
        decoding, "current_calls_parse", _recording(parsing.current_calls_parse, parsing_saw)
    )
    monkeypatch.setattr(polling, "calls_apply", _recording(ingest.calls_apply, writing_saw))
    attempt = organization_poll(organization=organization)
    assert attempt.clean and attempt.counts.new == 2
    assert parsing_saw == [False] and writing_saw == [False]
    assert gc.isenabled()
