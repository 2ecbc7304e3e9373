"""/healthz: what it says when all is well, when parts are down, and to whom."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from calls import tasks
from calls.heartbeat import HEARTBEAT_KEY
from calls.models import OrganizationStatus
from calls.selectors.health import RECENT_HEALTH, system_health
from tests.factories import OrganizationFactory, UserFactory
from tests.faults.support import redis_cache_settings
from tests.servers import RedisServer

pytestmark = pytest.mark.django_db


def healthz(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.get(reverse("healthz"))
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, response.json()


@pytest.fixture(autouse=True)
def fresh_health() -> Iterator[None]:
    """No test sees an answer memoised by another (see tests/selectors/test_health.py)."""
    RECENT_HEALTH.clear()
    yield
    RECENT_HEALTH.clear()


@pytest.fixture
def healthy_org():
    tasks.polls_dispatch_task()  # a real beat tick: writes the heartbeat
    return OrganizationFactory.create(
        name="Acme Secret Name", last_success_at=timezone.now(), poll_interval_seconds=5
    )


def test_all_well(client, healthy_org):
    status, body = healthz(client)
    assert status == 200
    assert body["status"] == "ok" and body["serving"] is True and body["reasons"] == []
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["broker"]["detail"] == "embedded"
    assert body["checks"]["beat"]["age_seconds"] < 30
    assert body["organizations"] == {"total": 1, "stale": 0}


def test_anonymous_and_members_see_counts_staff_see_detail(client, healthy_org):
    OrganizationFactory.create(name="Never Polled Co")  # new: gets a few intervals of grace
    _, anonymous = healthz(client)
    assert "Acme Secret Name" not in str(anonymous)
    assert "items" not in anonymous["organizations"]

    client.force_login(UserFactory.create())
    _, member = healthz(client)
    assert "items" not in member["organizations"]

    client.force_login(UserFactory.create(is_staff=True))
    _, staff = healthz(client)
    items = {item["name"]: item for item in staff["organizations"]["items"]}
    assert set(items) == {"Acme Secret Name", "Never Polled Co"}
    assert items["Acme Secret Name"]["last_clean_poll_age_seconds"] < 5
    assert items["Never Polled Co"]["last_clean_poll_age_seconds"] is None
    assert not any(item["stale"] for item in items.values())
    assert set(items["Acme Secret Name"]) == {
        "id",
        "name",
        "status",
        "last_clean_poll_age_seconds",
        "stale",
    }


def test_stale_organization_degrades_but_keeps_serving(client, healthy_org):
    now = timezone.now()
    late = OrganizationFactory.create(
        poll_interval_seconds=5, last_success_at=now - timedelta(seconds=16)
    )
    OrganizationFactory.create(poll_interval_seconds=5, last_success_at=now - timedelta(seconds=14))
    OrganizationFactory.create(enabled=False, status=OrganizationStatus.DISABLED)  # not counted
    status, body = healthz(client)
    assert status == 200
    assert body["status"] == "degraded"
    assert body["organizations"] == {"total": 3, "stale": 1}
    assert body["reasons"] == ["1 organization(s) without a recent clean poll"]
    stale = system_health().stale_organizations
    assert [org.id for org in stale] == [late.id]


def test_auth_failed_organization_is_reported_stale(client, healthy_org):
    OrganizationFactory.create(
        status=OrganizationStatus.AUTH_FAILED,
        last_success_at=timezone.now() - timedelta(minutes=5),
    )
    client.force_login(UserFactory.create(is_staff=True))
    _, body = healthz(client)
    failed = [item for item in body["organizations"]["items"] if item["stale"]]
    assert [item["status"] for item in failed] == ["auth_failed"]


def test_stale_beat_heartbeat_degrades(client, healthy_org):
    from django.core.cache import cache

    cache.set(HEARTBEAT_KEY, (timezone.now() - timedelta(minutes=3)).isoformat())
    status, body = healthz(client)
    assert (status, body["status"]) == (200, "degraded")
    assert body["checks"]["beat"]["ok"] is False
    assert body["checks"]["beat"]["age_seconds"] >= 179
    cache.delete(HEARTBEAT_KEY)
    RECENT_HEALTH.clear()
    _, body = healthz(client)
    assert body["checks"]["beat"] == {"ok": False, "detail": "no tick seen"}


def test_redis_cache_and_broker_up_then_down(client, healthy_org):
    redis = RedisServer().start()
    try:
        redis_settings = {"CACHES": redis_cache_settings(redis.url), "CELERY_BROKER_URL": redis.url}
        with override_settings(**redis_settings):
            tasks.polls_dispatch_task()
            status, body = healthz(client)
            assert (status, body["status"]) == (200, "ok"), body
            redis.stop()
            RECENT_HEALTH.clear()
            status, body = healthz(client)
    finally:
        redis.stop()
    assert (status, body["status"], body["serving"]) == (200, "degraded", True)
    checks = body["checks"]
    assert checks["cache"]["ok"] is False and "unreachable" in checks["cache"]["detail"]
    assert checks["broker"]["ok"] is False
    assert checks["beat"]["ok"] is False
    assert checks["database"] == {"ok": True}


def test_database_down_answers_503(client, healthy_org, monkeypatch):
    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    status, body = healthz(client)
    assert status == 503
    assert body["status"] == "down" and body["serving"] is False
    assert body["checks"]["database"] == {"ok": False, "detail": "unreachable (OperationalError)"}
    assert body["organizations"] == {"total": 0, "stale": 0}


def test_only_get_and_head(client):
    assert client.post(reverse("healthz")).status_code == 405
    assert client.head(reverse("healthz")).status_code == 200
