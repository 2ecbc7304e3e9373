"""The poll lock on both caches a deployment uses (the database cache embedded, a real
redis-server in production): only its holder releases it, atomically, and a poll's budget
and its task's time limits fit inside its life."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls import tasks
from calls.invoca import current_calls_parse
from calls.models import Call, Organization, PollRun
from calls.services import poll_result_ingest
from calls.services.poll_lock import (
    PollLease,
    poll_budget_seconds,
    poll_lock_key,
    poll_lock_release,
    poll_lock_seconds,
    poll_lock_take,
    poll_task_time_limits,
)
from calls.services.polling import PollOutlivedLock
from tests.factories import OrganizationFactory, call_payload
from tests.faults.locks import poll_lock_expire
from tests.faults.support import redis_cache_settings
from tests.settings.test_settings import PRODUCTION, run

pytestmark = pytest.mark.django_db


def _expire_in_redis(redis_client: object, organization_id: int) -> None:
    (stored,) = redis_client.keys(f"*{poll_lock_key(organization_id)}")  # type: ignore[attr-defined]
    redis_client.pexpire(stored, 1)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while redis_client.exists(stored) and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)
    assert not redis_client.exists(stored)  # type: ignore[attr-defined]


@pytest.fixture
def redis_cache(redis_url: str, redis_client: object) -> Iterator[None]:
    with override_settings(CACHES=redis_cache_settings(redis_url)):
        yield


@pytest.fixture(params=["database", "redis"])
def lock_cache(request: pytest.FixtureRequest) -> Iterator[object]:
    """A function that makes a held lock expire, as its life running out would, in the cache
    of this run."""
    if request.param == "database":
        yield poll_lock_expire
        return
    redis_url = request.getfixturevalue("redis_url")
    redis_client = request.getfixturevalue("redis_client")
    with override_settings(CACHES=redis_cache_settings(redis_url)):
        yield lambda organization_id: _expire_in_redis(redis_client, organization_id)


def test_a_holder_releases_its_own_lock(lock_cache):
    lease = poll_lock_take(organization_id=7)
    assert lease is not None
    assert poll_lock_take(organization_id=7) is None
    assert poll_lock_release(lease)
    assert cache.get(poll_lock_key(7)) is None
    assert poll_lock_take(organization_id=7) is not None


def test_an_expired_holder_leaves_the_new_holders_lock_alone(lock_cache):
    first = poll_lock_take(organization_id=7)
    assert first is not None
    lock_cache(7)  # the first holder outlived its lock
    second = poll_lock_take(organization_id=7)
    assert second is not None and second.owner != first.owner

    assert not poll_lock_release(first)
    assert cache.get(poll_lock_key(7)) == second.owner
    assert poll_lock_take(organization_id=7) is None  # still held by the second
    assert poll_lock_release(second)
    assert poll_lock_take(organization_id=7) is not None


def test_a_lease_ends_before_the_lock_in_the_cache_does():
    before = time.monotonic()
    lease = poll_lock_take(organization_id=7)
    assert lease is not None and not lease.expired
    assert lease.expires_at <= time.monotonic() + poll_lock_seconds()
    assert lease.expires_at >= before + poll_lock_seconds()


def test_the_poll_budget_and_the_task_limits_fit_inside_the_lock(settings):
    soft, hard = poll_task_time_limits()
    assert poll_budget_seconds() <= soft < hard < poll_lock_seconds()
    assert (
        tasks.organization_poll_task.soft_time_limit,
        tasks.organization_poll_task.time_limit,
    ) == (
        soft,
        hard,
    )
    # A batch runs its polls in turn: no soft limit to interrupt one of them, and a hard
    # limit that lets every one of them run to its own.
    assert tasks.organization_polls_task.soft_time_limit is None
    assert tasks.organization_polls_task.time_limit == settings.POLL_BATCH_SIZE * hard
    # The HTTP client's deadline is part of the budget, and so is the database's lock wait,
    # which the connection a poll uses really has.
    assert poll_budget_seconds() > settings.POLL_TOTAL_TIMEOUT + (
        settings.DATABASE_LOCK_WAIT_SECONDS
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone()[0] == f"{int(settings.DATABASE_LOCK_WAIT_SECONDS)}s"
        else:
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] == int(settings.DATABASE_LOCK_WAIT_SECONDS * 1000)


def test_a_poll_that_outlived_its_lock_applies_nothing():
    org: Organization = OrganizationFactory.create()
    result = current_calls_parse({"current_calls": [call_payload("A1")]})
    now = timezone.now()
    outlived = PollLease(org.pk, owner=1, expires_at=time.monotonic() - 0.001)
    with pytest.raises(PollOutlivedLock):
        poll_result_ingest(
            organization=org, result=result, started_at=now, finished_at=now, lease=outlived
        )
    assert (Call.objects.count(), PollRun.objects.count()) == (0, 0)
    org.refresh_from_db()
    assert org.poll_state.answer_started_at is None and org.poll_state.sighted_at is None


def test_the_release_is_one_conditional_delete_in_the_database_cache():
    lease = poll_lock_take(organization_id=7)
    assert lease is not None
    with CaptureQueriesContext(connection) as queries:
        assert poll_lock_release(lease)
    (statement,) = [query["sql"] for query in queries.captured_queries]
    assert statement.startswith("DELETE") and "value" in statement


@pytest.mark.usefixtures("redis_cache")
def test_the_release_is_one_script_in_redis(redis_client):
    def calls(command: str) -> int:
        stats = redis_client.info("commandstats")
        return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))

    lease = poll_lock_take(organization_id=7)
    assert lease is not None
    before = {command: calls(command) for command in ("eval", "get", "del")}
    assert poll_lock_release(lease)
    after = {command: calls(command) for command in ("eval", "get", "del")}
    # One script, and only its own GET and DEL (Redis counts the commands a script runs).
    assert {command: after[command] - before[command] for command in after} == {
        "eval": 1,
        "get": 1,
        "del": 1,
    }


def test_postgresql_connections_wait_for_a_lock_as_long_as_the_budget_says():
    probe = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps(s.DATABASES['default']['OPTIONS']))"
    )
    # Options given in DATABASE_URL are kept.
    url = PRODUCTION["DATABASE_URL"] + "?options=-c%20statement_timeout%3D90000"
    done = run(probe, {**PRODUCTION, "DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["options"] == (
        "-c statement_timeout=90000 -c lock_timeout=20000"
    )
