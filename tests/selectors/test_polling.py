"""What a poll reads before it asks Invoca (calls.selectors.polling): the stored text of each
call its organization still has live, and nothing else."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from calls.invoca import KnownCall, current_calls_read
from calls.invoca.jsontext import text_digest
from calls.models import Call, Organization
from calls.selectors.polling import live_calls_known
from calls.services import poll_result_ingest
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db


def ingest(org: Organization, payloads: list[dict[str, object]]) -> None:
    """One clean poll answering `payloads` as bytes, as a real poll reads them."""
    body = json.dumps({"current_calls": payloads}).encode()
    org.refresh_from_db()
    result = current_calls_read(body, known=live_calls_known(organization=org))
    now = timezone.now()
    poll_result_ingest(organization=org, result=result, started_at=now, finished_at=now)


def test_only_the_organizations_live_calls_with_a_stored_text_are_known() -> None:
    org, other = OrganizationFactory.create(), OrganizationFactory.create()
    ingest(org, [call_payload("LIVE"), call_payload("ENDED"), call_payload("NO-TEXT")])
    ingest(other, [call_payload("ELSEWHERE")])
    Call.objects.filter(transaction_id="ENDED").update(ended_at=timezone.now())
    Call.objects.filter(transaction_id="NO-TEXT").update(raw_size=0)

    known = live_calls_known(organization=org)

    live = Call.objects.get(transaction_id="LIVE")
    assert known == {"LIVE": KnownCall(live.raw_hash, live.raw_size, live.content_hash)}


def test_a_known_call_is_the_digest_and_length_of_the_text_received() -> None:
    org = OrganizationFactory.create()
    payload = call_payload("LIVE")
    ingest(org, [payload])
    text = json.dumps(payload)
    known = live_calls_known(organization=org)["LIVE"]
    assert (known.raw_hash, known.raw_size) == (text_digest(text), len(text))
