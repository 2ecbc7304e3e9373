"""/healthz under a flood: anyone's request writes nothing, and however many arrive, the
checks run at most once a second per process. Staff still get a fresh, writing check."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis as redis_lib
from django.db import OperationalError, connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from calls import tasks
from calls.models import Organization, OrganizationPollState, OrganizationStatus
from calls.selectors.health import RECENT_HEALTH
from tests.factories import OrganizationFactory, UserFactory
from tests.faults.support import redis_cache_settings
from tests.servers import RedisServer

pytestmark = pytest.mark.django_db
FLOOD = 50
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    stopped = Clock()
    monkeypatch.setattr(RECENT_HEALTH, "clock", stopped)
    RECENT_HEALTH.clear()
    yield stopped
    RECENT_HEALTH.clear()


@pytest.fixture
def healthy_org() -> Organization:
    tasks.polls_dispatch_task()  # a real beat tick: writes the heartbeat
    return OrganizationFactory.create(last_success_at=timezone.now(), poll_interval_seconds=5)


def hit(client: Client) -> int:
    return client.get(reverse("healthz")).status_code


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)
    ]


def test_a_flood_of_anonymous_requests_costs_one_read_only_check_a_second(
    client: Client, clock: Clock, healthy_org: Organization
) -> None:
    with CaptureQueriesContext(connection) as first:
        assert hit(client) == 200
    assert len(first) > 0 and writes(first) == []

    with CaptureQueriesContext(connection) as flood:
        assert all(hit(client) == 200 for _ in range(FLOOD))
        clock.advance(0.999)
        assert hit(client) == 200
    assert len(flood) == 0

    clock.advance(0.001)
    with CaptureQueriesContext(connection) as next_second:
        assert all(hit(client) == 200 for _ in range(FLOOD))
    assert len(next_second) == len(first) and writes(next_second) == []


def test_the_answer_turns_to_503_within_a_second_of_the_database_going_down(
    client: Client, clock: Clock, healthy_org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert hit(client) == 200

    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    with monkeypatch.context() as outage:
        outage.setattr(connection, "cursor", refuse)
        clock.advance(1.0)
        response = client.get(reverse("healthz"))
        assert response.status_code == 503
        assert response.json()["checks"]["database"]["ok"] is False
        assert hit(client) == 503  # the memoised answer is the outage's too
    clock.advance(1.0)
    assert hit(client) == 200


def test_staff_get_a_fresh_check_every_time(
    client: Client, clock: Clock, healthy_org: Organization
) -> None:
    assert hit(client) == 200  # memoised for everyone else
    client.force_login(UserFactory.create(is_staff=True))
    OrganizationPollState.objects.filter(pk=healthy_org.pk).update(
        status=OrganizationStatus.AUTH_FAILED
    )
    with CaptureQueriesContext(connection) as staff:
        items = client.get(reverse("healthz")).json()["organizations"]["items"]
    assert [item["status"] for item in items] == ["auth_failed"]
    assert writes(staff)  # the cache probe: a real write and read


def _redis_commands(client: redis_lib.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}


def _redis_writes(client: redis_lib.Redis, commands: dict[str, int]) -> list[str]:
    """The commands among `commands` that Redis itself flags as writes."""
    known = client.command()
    return [
        name for name in commands if "write" in known.get(name.split("|")[0], {}).get("flags", ())
    ]


def test_on_redis_a_flood_sends_one_check_of_reads_only(
    client: Client, clock: Clock, healthy_org: Organization
) -> None:
    server = RedisServer().start()
    observer = redis_lib.Redis.from_url(server.url)
    try:
        settings = {"CACHES": redis_cache_settings(server.url), "CELERY_BROKER_URL": server.url}
        with override_settings(**settings):
            tasks.polls_dispatch_task()  # the heartbeat, in this Redis
            observer.config_resetstat()
            RECENT_HEALTH.clear()
            assert hit(client) == 200
            one_check = _redis_commands(observer)
            observer.config_resetstat()
            clock.advance(1.0)
            assert all(hit(client) == 200 for _ in range(FLOOD))
            flood = _redis_commands(observer)
            written = _redis_writes(observer, {**one_check, **flood})
            assert _redis_writes(observer, {"set": 1, "get": 1}) == ["set"]  # it can tell
    finally:
        observer.close()
        server.stop()
    assert one_check and flood == one_check
    assert written == []
