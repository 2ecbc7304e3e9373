"""Hostile input from the feed is stored safely or refused with a clear PollRun error — never a
crash loop, never markup that runs in an agent's browser."""

from __future__ import annotations

import csv
import html
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from calls.models import Call, CallSnapshot, PollOutcome
from calls.sandbox.responses import HOSTILE_VALUES
from tests.factories import ApiTokenFactory, OrganizationFactory, UserFactory, call_payload
from tests.faults.support import poll

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


class RawAnswerServer:
    """Answers every request with the same bytes: for bodies the sandbox feed cannot produce
    (invalid UTF-8, nesting deeper than Python's own JSON encoder allows)."""

    def __init__(self, body: bytes) -> None:
        answer = body

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/2022-08-01"

    def __enter__(self) -> RawAnswerServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    return client


def test_markup_and_formulas_are_stored_as_text_and_shown_escaped(feed, make_org, staff_client):
    org = make_org()
    feed.set_fault("hostile", invoca_id=org.invoca_id)
    attempt = poll(org)
    assert attempt.run.outcome == PollOutcome.CLEAN, attempt.run.error
    hostile = Call.objects.get(transaction_id="HOSTILE-0000-0000-0000-0001")
    custom = hostile.custom_data
    assert custom["agent_notes"]["value"] == "<script>alert(1)</script>"
    assert custom["export_formula"]["value"] == '=HYPERLINK("http://x","click me")'
    assert custom["emoji"]["value"] == HOSTILE_VALUES["emoji"]
    assert custom["half_an_emoji"]["value"] == "cut short ?"  # no database stores a lone half
    assert custom["latin_1"]["value"] == "cr\ufffdme br\ufffdl\ufffde, in Latin-1"
    assert hostile.start_time is None  # before the calendar's first day, once in UTC

    pages = [
        staff_client.get(reverse("calls:live"), secure=True),
        staff_client.get(reverse("calls:detail", args=[hostile.pk]), secure=True),
    ]
    for page in pages:
        assert page.status_code == 200
        text = page.content.decode()
        for attack in ("<script>alert", "<img src=x onerror", "<b>field_name</b>", "<i>source</i>"):
            assert attack not in text
    detail = pages[1].content.decode()
    assert html.escape("<script>alert(1)</script>") in detail
    assert "=HYPERLINK(" in html.unescape(detail)  # shown as text

    # In the CSV every formula is neutralised: no cell a spreadsheet would evaluate.
    export = staff_client.get(reverse("calls:export") + "?status=all", secure=True)
    assert export.status_code == 200
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "HOSTILE-0000-0000-0000-0001" in cells
    for formula in (HOSTILE_VALUES["export_formula"], HOSTILE_VALUES["csv_injection"]):
        assert formula not in cells
        assert any(cell.endswith(formula) for cell in cells)  # kept, but inert


def _one_good_one_bad(feed, org, bad: dict) -> None:
    feed.add_call(org.invoca_id, call_payload("GOOD-0001"))
    feed.add_call(org.invoca_id, bad)


@pytest.mark.parametrize(
    ("name", "bad_call", "reason"),
    [
        (
            "1 MB value",
            call_payload("BIG-0001", custom_data={"notes": {"value": "x" * 1_000_000}}),
            "1000000 characters",
        ),
        (
            "10,000 custom fields",
            call_payload(
                "WIDE-0001",
                custom_data={
                    f"field_{i}": {"value": str(i), "source": "Api"} for i in range(10_000)
                },
            ),
            "10000 fields",
        ),
    ],
)
def test_oversized_or_unusable_call_is_refused_alone_every_time(
    feed, make_org, name, bad_call, reason
):
    org = make_org(target_live=0)
    _one_good_one_bad(feed, org, bad_call)
    for _ in range(2):  # the same answer again: the same clear outcome, no crash
        attempt = poll(org)
        assert attempt.run.outcome == PollOutcome.PARTIAL
        assert attempt.run.calls_rejected == 1
        assert reason in attempt.run.error
        assert "xxxxxxxx" not in attempt.run.error and "field_1" not in attempt.run.error
        assert list(Call.objects.values_list("transaction_id", flat=True)) == ["GOOD-0001"]
    assert org.fresh().poll_state.consecutive_failures == 0


def test_deep_but_reasonable_nesting_is_kept_as_text(feed, make_org):
    org = make_org(target_live=0)
    nested: object = "bottom"
    for _ in range(200):
        nested = {"n": nested}
    feed.add_call(org.invoca_id, call_payload("NEST-0001", custom_data={"tree": {"value": nested}}))
    assert poll(org).clean
    stored = Call.objects.get(transaction_id="NEST-0001").custom_data["tree"]["value"]
    assert isinstance(stored, str) and stored.count('{"n": ') == 200


CONTROL_CHARACTERS = {
    "nul": "before\u0000after",
    "lone surrogate": "before\ud800after",
    "bidi override": "\u202eevil\u202c",
}


@pytest.mark.parametrize("name", list(CONTROL_CHARACTERS))
def test_characters_databases_refuse_do_not_break_the_poll(name):
    # JSON escapes (\\u0000, \\ud800) that decode to text PostgreSQL or UTF-8 cannot store.
    answer = {
        "current_calls": [
            call_payload("CTRL-0001", custom_data={"notes": {"value": CONTROL_CHARACTERS[name]}}),
            call_payload("GOOD-0001"),
        ]
    }
    with RawAnswerServer(json.dumps(answer, ensure_ascii=True).encode()) as server:
        organization = OrganizationFactory.create(api_base_url=server.url, poll_interval_seconds=1)
        ApiTokenFactory.create(organization=organization)
        for _ in range(2):
            attempt = poll(organization)
            assert attempt.run.outcome in (PollOutcome.CLEAN, PollOutcome.PARTIAL), (
                attempt.run.error
            )
            assert "GOOD-0001" in set(Call.objects.values_list("transaction_id", flat=True))
    organization.refresh_from_db()
    assert organization.poll_state.consecutive_failures == 0
    assert CallSnapshot.objects.filter(call__transaction_id="GOOD-0001").count() == 1
    stored = Call.objects.filter(transaction_id="CTRL-0001").first()
    if stored is not None:  # kept: then as text every database and browser can take
        text = json.dumps(stored.custom_data, ensure_ascii=False)
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogate left


def _latin_1_answer(transaction_id: bytes, notes: bytes) -> bytes:
    return (
        b'{"current_calls": [{"transaction_id": "' + transaction_id + b'", "call_status": '
        b'"bridged", "custom_data": {"notes": {"value": "' + notes + b'"}}}, '
        b'{"transaction_id": "GOOD-0001", "call_status": "bridged"}]}'
    )


def test_bytes_that_are_not_utf8_in_a_value_are_replaced_and_the_poll_is_clean():
    # A value some integration wrote in Latin-1: "café", its é the lone byte E9.
    with RawAnswerServer(_latin_1_answer(b"LATIN-0001", b"caf\xe9 cr\xe8me")) as server:
        organization = OrganizationFactory.create(api_base_url=server.url, poll_interval_seconds=1)
        ApiTokenFactory.create(organization=organization)
        for _ in range(2):  # the second time recognised unchanged, as any call is
            attempt = poll(organization)
            assert attempt.run.outcome == PollOutcome.CLEAN, attempt.run.error
            # Said in the run (the admin's poll history), but no failure of the feed.
            assert attempt.run.error == "bytes that are not UTF-8 read as U+FFFD"
    organization.refresh_from_db()
    assert organization.poll_state.last_error == ""
    stored = Call.objects.get(transaction_id="LATIN-0001")
    assert stored.custom_data["notes"]["value"] == "caf\ufffd cr\ufffdme"
    assert CallSnapshot.objects.filter(call=stored).count() == 1
    assert Call.objects.filter(transaction_id="GOOD-0001").exists()


def test_bytes_that_are_not_utf8_in_a_transaction_id_leave_that_call_out():
    # "BAD-\xff" and "BAD-\xfe" would both read as "BAD-\ufffd": one call where there are two.
    with RawAnswerServer(_latin_1_answer(b"BAD-\xff\xfe", b"plain")) as server:
        organization = OrganizationFactory.create(api_base_url=server.url, poll_interval_seconds=1)
        ApiTokenFactory.create(organization=organization)
        attempt = poll(organization)
    # Partial: a call was left out, so the answer ends no call.
    assert attempt.run.outcome == PollOutcome.PARTIAL
    assert "entry 0: transaction_id holds bytes that are not UTF-8" in attempt.run.error
    assert attempt.run.calls_rejected == 1
    assert list(Call.objects.values_list("transaction_id", flat=True)) == ["GOOD-0001"]
    organization.refresh_from_db()
    assert organization.poll_state.consecutive_failures == 0


RAW_BODIES = {
    "nesting 100,000 deep": (
        b'{"current_calls": [{"transaction_id": "DEEP-1", "custom_data": '
        + b'{"a": ' * 100_000
        + b"1"
        + b"}" * 100_000
        + b"}]}",
        "nested too deeply",
    ),
    "not JSON at all": (b"\x00\x01\x02\x89PNG", "not"),
}


@pytest.mark.parametrize("name", list(RAW_BODIES))
def test_undecodable_answer_is_a_failed_poll_with_a_clear_error(name):
    body, reason = RAW_BODIES[name]
    with RawAnswerServer(body) as server:
        organization = OrganizationFactory.create(api_base_url=server.url, poll_interval_seconds=1)
        ApiTokenFactory.create(organization=organization)
        for failures in (1, 2):
            attempt = poll(organization)
            organization.refresh_from_db()
            assert attempt.run.outcome == PollOutcome.BAD_RESPONSE
            assert reason in attempt.run.error
            assert organization.poll_state.consecutive_failures == failures
    assert Call.objects.count() == 0
