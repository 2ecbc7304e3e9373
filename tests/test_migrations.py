"""Data migrations: what existing rows become."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_POLL_STATE = [("calls", "0011_no_default_ordering")]
POLL_STATE = [("calls", "0012_organization_poll_state")]
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
STATE = {
    "status": "degraded",
    "next_poll_at": T0,
    "last_attempt_at": T0,
    "last_success_at": T0,
    "sighted_at": T0,
    "answer_started_at": T0,
    "last_error": "Invoca answered 503",
    "last_error_at": T0,
    "consecutive_failures": 3,
    "feed_version": 41,
}


def migrated_to(targets: list[tuple[str, str]]) -> Apps:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def at_0011() -> Iterator[Apps]:
    apps = migrated_to(BEFORE_POLL_STATE)
    yield apps
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    migrated_to(latest)


@pytest.mark.django_db(transaction=True)
def test_each_organizations_poll_state_moves_to_its_own_row_and_back(at_0011: Apps) -> None:
    organization = at_0011.get_model("calls", "Organization").objects.create(
        name="Acme", organization_type="Network", invoca_id="1", **STATE
    )
    apps = migrated_to(POLL_STATE)
    state = apps.get_model("calls", "OrganizationPollState").objects.values().get()
    assert state == {"organization_id": organization.pk, **STATE}

    apps = migrated_to(BEFORE_POLL_STATE)
    restored = apps.get_model("calls", "Organization").objects.values(*STATE).get()
    assert restored == STATE
