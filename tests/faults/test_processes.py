"""Fault matrix rows that need real processes: a worker killed mid-ingest, Redis stopping
under a running worker and beat, the database failing during a poll."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from calls import services, tasks
from calls.models import Call, CallSnapshot, PollOutcome, PollRun
from calls.sandbox import bulk_payload
from tests.factories import UserFactory
from tests.faults.locks import poll_lock_expire
from tests.faults.processes import (
    CeleryWorker,
    killed_inside_an_ingest,
    redis_worker_environment,
    wait_until,
)
from tests.faults.support import poll, redis_cache_settings
from tests.servers import RedisServer, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_worker_killed_inside_an_ingest_leaves_nothing_behind(feed, make_org):
    org = make_org(target_live=0)
    feed.serve_static(org.invoca_id, bulk_payload(300, seed=3))
    version_before = org.fresh().poll_state.feed_version
    with killed_inside_an_ingest("tests.faults.stalled_ingest", org.organization.pk):
        # Mid-transaction: nothing is visible from outside.
        assert Call.objects.count() == 0

    assert (Call.objects.count(), CallSnapshot.objects.count(), PollRun.objects.count()) == (
        0,
        0,
        0,
    )
    state = org.fresh()
    assert state.poll_state.feed_version == version_before
    assert state.poll_state.last_attempt_at is None and state.poll_state.last_success_at is None

    # The database is whole and writable: once the dead worker's lock has run out, the next
    # poll ingests everything once.
    poll_lock_expire(org.organization.pk)
    attempt = poll(org)
    assert attempt.clean and attempt.counts.new == 300
    assert Call.objects.count() == 300 and CallSnapshot.objects.count() == 300


class DatabaseOutage:
    """Fails every statement from the first snapshot INSERT (or COPY) on (a server that went
    away mid-ingest), or only that statement (a blip)."""

    def __init__(self, *, lasting: bool) -> None:
        self.lasting = lasting
        self.down = False

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if "calls_callsnapshot" in sql and sql.lstrip().upper().startswith(("INSERT", "COPY")):
            self.down = True
            raise OperationalError("server closed the connection unexpectedly")
        if self.down and self.lasting:
            raise OperationalError("connection refused")
        return execute(sql, params, many, context)


@pytest.mark.usefixtures("redis_cache")
@pytest.mark.parametrize("lasting", [False, True], ids=["blip", "outage"])
def test_database_failing_mid_poll_leaves_no_partial_state_and_is_retried(feed, make_org, lasting):
    org = make_org()
    assert poll(org).clean
    changed = feed.live_calls(org.invoca_id)[0]["transaction_id"]
    feed.update_call(org.invoca_id, changed, call_status="transferred")
    calls_before = (Call.objects.count(), CallSnapshot.objects.count())
    version = org.fresh().poll_state.feed_version

    with connection.execute_wrapper(DatabaseOutage(lasting=lasting)):
        if lasting:  # not even the failure can be recorded: the task fails
            with pytest.raises(OperationalError):
                tasks.organization_poll_task(organization_id=org.organization.pk)
        else:  # the failure is recorded like any other
            assert (
                tasks.organization_poll_task(organization_id=org.organization.pk)
                == PollOutcome.ERROR
            )
    assert (Call.objects.count(), CallSnapshot.objects.count()) == calls_before
    assert Call.objects.get(transaction_id=changed).call_status == "bridged"
    state = org.fresh()
    if lasting:
        assert PollRun.objects.count() == 1 and state.poll_state.feed_version == version
    else:
        run = PollRun.objects.order_by("-started_at", "-pk").first()  # the failed poll's
        assert run is not None and run.error == "internal error (OperationalError)"
        assert state.poll_state.consecutive_failures == 1

    # The lock went with the failed poll, and a later slot polls again.
    later = timezone.now() + timedelta(seconds=settings.POLL_BACKOFF_MAX_SECONDS)
    slots = services.polls_claim_due(now=later)
    assert [slot.organization_id for slot in slots] == [org.organization.pk]
    assert tasks.organization_poll_task(organization_id=org.organization.pk) == PollOutcome.CLEAN
    assert CallSnapshot.objects.count() == calls_before[1] + 1
    assert Call.objects.get(transaction_id=changed).call_status == "transferred"


def _polls_since(moment) -> int:  # type: ignore[no-untyped-def]
    return PollRun.objects.filter(started_at__gt=moment, outcome=PollOutcome.CLEAN).count()


def health(client: Client) -> str:
    return client.get(reverse("healthz")).content.decode()


def services_up(client: Client) -> bool:
    """Cache, broker and beat all well (an organization's poll age depends on the load)."""
    checks = client.get(reverse("healthz")).json()["checks"]
    return all(checks[name]["ok"] for name in ("database", "cache", "broker", "beat"))


def test_redis_stopping_degrades_then_polling_resumes_by_itself(feed, make_org):
    make_org(poll_interval_seconds=1.0)
    redis = RedisServer(port=free_port()).start()
    redis_settings = {"CACHES": redis_cache_settings(redis.url), "CELERY_BROKER_URL": redis.url}
    # Reads give up after half a second, a whole request after one.
    env = redis_worker_environment(redis.url, timeout="1", POLL_READ_TIMEOUT="0.5")
    client = Client()
    client.force_login(UserFactory.create(is_staff=True))
    worker = CeleryWorker(env)
    try:
        with worker, override_settings(**redis_settings):
            started = timezone.now()
            wait_until(lambda: _polls_since(started) >= 2, timeout=40, explain=worker.log)
            wait_until(lambda: services_up(client), timeout=10, explain=lambda: health(client))

            redis.stop()
            stopped = timezone.now()
            time.sleep(1.5)
            degraded = client.get(reverse("healthz"))
            assert degraded.status_code == 200
            assert degraded.json()["status"] == "degraded"
            assert degraded.json()["checks"]["cache"]["ok"] is False
            # Pages still come from the database.
            page = client.get(reverse("calls:live"), secure=True)
            assert page.status_code == 200, page.content[:2000]
            # No poll starts without its lock (in Redis): nothing half-done while it is away.
            time.sleep(1.5)
            assert _polls_since(stopped + timedelta(seconds=0.5)) == 0

            # Once the feed is 3 intervals old, agents are told, and told it is our side.
            def live_page() -> bytes:
                return client.get(reverse("calls:live"), secure=True).content

            wait_until(lambda: b"data-services-down" in live_page(), timeout=10)
            assert b"Feed down" in live_page()

            redis.start()
            restarted = timezone.now()
            wait_until(lambda: _polls_since(restarted) >= 2, timeout=40, explain=worker.log)
            wait_until(lambda: services_up(client), timeout=10, explain=lambda: health(client))
    finally:
        redis.stop()
    assert Call.objects.filter(ended_at__isnull=False).count() == 0
