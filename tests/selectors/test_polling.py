"""What a poll reads before it asks Invoca (calls.selectors.polling): its organization, poll
state and token in one query, and the calls its organization still has live (the stored
text of each, and where it stands in the sightings), and nothing else; then the ended calls
an answer brings back."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls.invoca import current_calls_read
from calls.invoca.jsontext import text_digest
from calls.models import ApiToken, Call, Organization, OrganizationStatus
from calls.selectors.polling import (
    StoredCall,
    ended_calls_stored,
    live_calls_stored,
    poll_subject,
)
from calls.services import poll_result_ingest
from tests.factories import ApiTokenFactory, OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db


def ingest(org: Organization, payloads: list[dict[str, object]]) -> None:
    """One clean poll answering `payloads` as bytes, as a real poll reads them."""
    body = json.dumps({"current_calls": payloads}).encode()
    org.refresh_from_db()
    result = current_calls_read(body, known=live_calls_stored(organization=org))
    now = timezone.now()
    poll_result_ingest(organization=org, result=result, started_at=now, finished_at=now)


def test_the_organizations_live_calls_are_read_as_stored() -> None:
    org, other = OrganizationFactory.create(), OrganizationFactory.create()
    ingest(org, [call_payload("LIVE"), call_payload("ENDED"), call_payload("NO-TEXT")])
    ingest(other, [call_payload("ELSEWHERE")])
    Call.objects.filter(transaction_id="ENDED").update(ended_at=timezone.now())
    Call.objects.filter(transaction_id="NO-TEXT").update(raw_size=0, missed_polls=2)

    stored = live_calls_stored(organization=org)

    live, no_text = (
        Call.objects.get(transaction_id="LIVE"),
        Call.objects.get(transaction_id="NO-TEXT"),
    )
    assert stored == {
        "LIVE": StoredCall(live.pk, live.raw_hash, live.raw_size, live.content_hash, 0, True),
        "NO-TEXT": StoredCall(no_text.pk, no_text.raw_hash, 0, no_text.content_hash, 2, True),
    }
    assert stored["LIVE"].sighted_now and not stored["NO-TEXT"].sighted_now


def test_the_ended_calls_an_answer_names_are_read_as_ended() -> None:
    org, other = OrganizationFactory.create(), OrganizationFactory.create()
    ingest(org, [call_payload("ENDED"), call_payload("LIVE"), call_payload("UNNAMED")])
    ingest(other, [call_payload("ENDED")])
    Call.objects.filter(transaction_id__in=["ENDED", "UNNAMED"]).update(ended_at=timezone.now())

    ended = ended_calls_stored(organization=org, transaction_ids=["ENDED", "LIVE", "NEW"])

    row = Call.objects.get(organization=org, transaction_id="ENDED")
    assert ended == {
        "ENDED": StoredCall(row.pk, row.raw_hash, row.raw_size, row.content_hash, 0, False, True)
    }
    assert ended_calls_stored(organization=org, transaction_ids=[]) == {}


def test_a_known_call_is_the_digest_and_length_of_the_text_received() -> None:
    org = OrganizationFactory.create()
    payload = call_payload("LIVE")
    ingest(org, [payload])
    text = json.dumps(payload)
    known = live_calls_stored(organization=org)["LIVE"]
    assert (known.raw_hash, known.raw_size) == (text_digest(text), len(text))


def test_the_organization_its_poll_state_and_its_token_are_read_in_one_query(
    django_assert_num_queries,
) -> None:
    org = OrganizationFactory.create(status=OrganizationStatus.DEGRADED, consecutive_failures=3)
    token = ApiTokenFactory.create(organization=org)
    with django_assert_num_queries(1):
        subject = poll_subject(organization_id=org.pk)
        assert subject is not None
        assert subject.organization.poll_state.consecutive_failures == 3
    assert subject.organization == org and subject.token == token


def test_the_newest_active_token_entered_for_the_base_urls_origin_is_sent() -> None:
    org = OrganizationFactory.create()
    older = ApiTokenFactory.create(organization=org)
    elsewhere = ApiTokenFactory.create(organization=org, origin="https://other.example:443")
    inactive = ApiTokenFactory.create(organization=org, active=False)
    for age, token in enumerate((inactive, elsewhere, older), start=1):
        ApiToken.objects.filter(pk=token.pk).update(
            created_at=timezone.now() - timedelta(minutes=age)
        )
    subject = poll_subject(organization_id=org.pk)
    assert subject is not None and subject.token == older


def test_without_a_usable_token_the_organization_is_read_all_the_same() -> None:
    org = OrganizationFactory.create(status=OrganizationStatus.AUTH_FAILED)
    ApiTokenFactory.create(organization=org, origin="https://other.example:443")
    subject = poll_subject(organization_id=org.pk)
    assert subject is not None and subject.token is None
    assert subject.organization.poll_state.status == OrganizationStatus.AUTH_FAILED
    ApiToken.objects.filter(organization=org).delete()
    subject = poll_subject(organization_id=org.pk)
    assert subject is not None and subject.organization == org and subject.token is None


def test_a_disabled_or_missing_organization_is_no_scheduled_polls_subject() -> None:
    org = OrganizationFactory.create(enabled=False)
    ApiTokenFactory.create(organization=org)
    bare = OrganizationFactory.create(enabled=False)
    assert poll_subject(organization_id=org.pk, enabled_only=True) is None
    assert poll_subject(organization_id=bare.pk, enabled_only=True) is None
    assert poll_subject(organization_id=org.pk) is not None
    assert poll_subject(organization_id=org.pk + bare.pk + 1) is None


def _values(instance: Model) -> dict[str, tuple[type, object]]:
    """Each field's value with its type: 1 == True and a datetime's text is no datetime."""
    return {
        field.attname: (type(getattr(instance, field.attname)), getattr(instance, field.attname))
        for field in type(instance)._meta.concrete_fields
    }


def _as_the_orm_reads_them(org: Organization, token: ApiToken | None) -> None:
    """poll_subject's organization, poll state and token hold what the ORM reads, field by
    field and type by type, and are tied together without another query."""
    read = Organization.objects.select_related("poll_state").get(pk=org.pk)
    token_read = None if token is None else ApiToken.objects.get(pk=token.pk)
    with CaptureQueriesContext(connection) as queries:
        subject = poll_subject(organization_id=org.pk)
        assert subject is not None
        assert _values(subject.organization) == _values(read)
        assert _values(subject.organization.poll_state) == _values(read.poll_state)
        assert subject.organization.poll_state.organization is subject.organization
        if token_read is None:
            assert subject.token is None
        else:
            assert subject.token is not None
            assert _values(subject.token) == _values(token_read)
            assert subject.token.organization is subject.organization
    assert len(queries) == 1
    for instance in (subject.organization, subject.organization.poll_state, subject.token):
        assert instance is None or (not instance._state.adding and instance._state.db == "default")


def test_the_subject_holds_what_the_orm_reads_with_and_without_a_token() -> None:
    moment = timezone.now().replace(microsecond=250_001)
    org = OrganizationFactory.create(
        enabled=False,
        pinned_fields=["Campaign", "ünï 😀"],
        poll_interval_seconds=7.5,
        status=OrganizationStatus.DEGRADED,
        next_poll_at=moment,
        last_attempt_at=moment.replace(microsecond=0),  # written without a fraction
        answer_started_at=moment - timedelta(days=400),
        last_error="timeout",
        last_error_at=moment,
        consecutive_failures=4,
        feed_version=2**40,
    )
    token = ApiTokenFactory.create(organization=org, label="primary")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=moment)
    _as_the_orm_reads_them(org, token)
    ApiToken.objects.filter(pk=token.pk).update(active=False)
    _as_the_orm_reads_them(org, None)


def test_a_fresh_organizations_subject_holds_what_the_orm_reads() -> None:
    org = OrganizationFactory.create()  # null datetimes, default JSON, enabled
    _as_the_orm_reads_them(org, ApiTokenFactory.create(organization=org))
