"""The embedded setup (no Redis: a filesystem broker, the database as cache) polls too."""

from __future__ import annotations

import pytest

from calls.models import Call, OrganizationStatus
from tests.factories import call_payload
from tests.integration.support import call_existing, call_row, stop_polling, watched_org

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_calls_appear_and_end_without_redis(embedded_stack):
    stack = embedded_stack
    org = watched_org(stack, "6001")
    try:
        stack.feed.add_call("6001", call_payload("EMB-1"))
        stack.wait_for(lambda: call_row(org, "EMB-1") is not None, "the call to appear", 30)
        stack.feed.end_call("6001", "EMB-1")
        stack.wait_for(lambda: call_existing(org, "EMB-1").ended_at is not None, "its end", 30)
        org.refresh_from_db()
        assert org.poll_state.status == OrganizationStatus.OK
        assert Call.objects.filter(organization=org).count() == 1
    finally:
        stop_polling(org)
