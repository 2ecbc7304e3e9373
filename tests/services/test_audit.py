"""The audit trail (calls.services.audit): who did what to which object, an export recorded as
it starts and completed with its row count, and no searched phone number kept."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import AnonymousUser

from calls.models import AuditEvent
from calls.services.audit import (
    audit_export_finish,
    audit_export_start,
    audit_record,
    search_text_mask,
)
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_event_names_its_user_its_object_and_a_bounded_summary() -> None:
    user = UserFactory.create(username="dana")
    organization = OrganizationFactory.create()
    event = audit_record(
        actor=user,
        action=AuditEvent.Action.POLLED,
        organization=organization,
        subject=organization,
        summary="x" * 400,
    )
    event.refresh_from_db()
    assert (event.actor, event.actor_name) == (user, "dana")
    assert (event.object_type, event.object_id) == ("organization", str(organization.pk))
    assert event.summary == "x" * 300


@pytest.mark.parametrize("actor", [None, AnonymousUser()])
def test_an_actor_who_is_no_user_is_recorded_by_the_name_given(actor) -> None:
    event = audit_record(actor=actor, action=AuditEvent.Action.POLLED, actor_name="ops")
    event.refresh_from_db()
    assert (event.actor, event.actor_name, event.object_type) == (None, "ops", "")


def test_an_export_is_on_record_from_its_start_and_completed_with_its_rows() -> None:
    event = audit_export_start(actor=None, actor_name="ops", door="cli", filters={})
    event.refresh_from_db()
    assert (event.action, event.summary) == (AuditEvent.Action.EXPORTED, "CSV export (cli)")
    assert event.details == {"door": "cli", "filters": {}, "rows": None, "complete": False}

    audit_export_finish(event=event, rows=12, complete=True)
    event.refresh_from_db()
    assert event.details == {"door": "cli", "filters": {}, "rows": 12, "complete": True}


@pytest.mark.parametrize(
    ("searched", "kept"),
    [
        ("+1 (415) 555-0134", "+• (•••) •••-••34"),
        ("4155550134", "••••••••34"),
        ("lead 415.555.0134 hot", "lead •••.•••.••34 hot"),
        ("12345", "•••45"),
        ("1234", "1234"),  # four digits: what a restricted viewer sees anyway
        ("TX-1A2B-33", "TX-1A2B-33"),  # ids with a few digits stay searchable in the trail
        ("google", "google"),
    ],
)
def test_search_text_that_may_be_a_phone_number_is_masked(searched, kept):
    assert search_text_mask(searched) == kept


def test_an_export_records_its_search_masked():
    event = audit_export_start(
        actor=None, actor_name="ops", door="cli", filters={"q": "+14155550134", "status": "all"}
    )
    event.refresh_from_db()
    assert event.details["filters"] == {"q": "+•••••••••34", "status": "all"}
    assert "4155550134" not in json.dumps(event.details)
