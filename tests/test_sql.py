"""Single-row writes written once per process (calls.sql): what lands in the table is what
the ORM writes, value for value, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import F, Model
from django.test.utils import CaptureQueriesContext

from calls.models import (
    Organization,
    OrganizationPollState,
    OrganizationStatus,
    PollKind,
    PollOutcome,
    PollRun,
)
from calls.services.bulk_sql import db_datetime
from calls.sql import instance_insert, quoted_columns, quoted_table, row_update, rows_select
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db
# With and without a fraction of a second: SQLite keeps a datetime as text, written either way.
MOMENTS = [
    datetime(2026, 11, 25, 12, 0, 1, 250_001, tzinfo=UTC),
    datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC),
]
NEWER = "{answer_started_at} IS NULL OR {answer_started_at} < %s"


def stored(model: type[Model], pk: Any) -> tuple[Any, ...]:
    """The row's columns but its key, exactly as the database keeps them."""
    names = [field.name for field in model._meta.concrete_fields if not field.primary_key]
    pk_column = quoted_columns(model, [model._meta.pk.name])[0]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(quoted_columns(model, names))} FROM {quoted_table(model)} "  # noqa: S608
            f"WHERE {pk_column} = %s",
            [pk],
        )
        (row,) = cursor.fetchall()
    return tuple(row)


@pytest.mark.parametrize("moment", MOMENTS)
def test_an_inserted_instance_is_stored_as_the_orm_stores_it(moment):
    fields = {
        "organization": OrganizationFactory.create(),
        "kind": PollKind.MANUAL,
        "started_at": moment,
        "finished_at": moment + timedelta(seconds=1),
        "outcome": PollOutcome.PARTIAL,
        "http_status": None,
        "calls_seen": 3,
        "error": "ünï 😀 'q' \\",
    }
    by_orm = PollRun.objects.create(**fields)
    run = PollRun(**fields)

    instance_insert(run)

    assert run.pk is not None and run.pk != by_orm.pk
    assert not run._state.adding and run._state.db == "default"
    assert stored(PollRun, run.pk) == stored(PollRun, by_orm.pk)


@pytest.mark.parametrize("moment", MOMENTS)
def test_an_updated_row_is_stored_as_the_orm_stores_it(moment):
    by_orm, org = OrganizationFactory.create(), OrganizationFactory.create()
    values = {
        "status": OrganizationStatus.DEGRADED,
        "next_poll_at": moment,
        "last_attempt_at": moment,
        "answer_started_at": moment - timedelta(days=400),
        "last_error": "ünï 😀 'q' \\",
        "last_error_at": None,
        "consecutive_failures": 3,
    }
    OrganizationPollState.objects.filter(pk=by_orm.pk).update(
        **values, feed_version=F("feed_version") + 1
    )

    assert row_update(OrganizationPollState, org.pk, values, increment=("feed_version",))

    assert stored(OrganizationPollState, org.pk) == stored(OrganizationPollState, by_orm.pk)
    assert OrganizationPollState.objects.get(pk=org.pk).feed_version == 1


def test_a_row_is_updated_only_where_its_condition_holds():
    moment = MOMENTS[0]
    org = OrganizationFactory.create(answer_started_at=moment, last_error="before")

    def update(error: str, started_at: datetime) -> bool:
        return row_update(
            OrganizationPollState,
            org.pk,
            {"last_error": error},
            condition=NEWER,
            params=[db_datetime(started_at)],
        )

    assert not update("as old", moment)
    assert OrganizationPollState.objects.get(pk=org.pk).last_error == "before"
    assert update("newer", moment + timedelta(microseconds=1))
    assert OrganizationPollState.objects.get(pk=org.pk).last_error == "newer"
    assert not row_update(OrganizationPollState, org.pk + 1, {"last_error": "nobody's"})


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_poll_statement_run_again_is_prepared_on_postgresql_and_django_queries_are_not():
    organization = OrganizationFactory.create()
    for _ in range(6):  # past the threshold of 5 runs on this connection
        assert rows_select(Organization, ("name",), "{id} = %s", [organization.pk]) == [
            (organization.name,)
        ]
    if connection.vendor != "postgresql":
        assert not hasattr(connection, "prepared_cursor")  # SQLite has nothing to prepare
        return
    prepared = _prepared_statements()
    assert [text for text in prepared if quoted_table(Organization) in text and "$1" in text]
    # Run as prepared, the statement still shows in connection.queries, with its values.
    with CaptureQueriesContext(connection) as queries:
        rows_select(Organization, ("name",), "{id} = %s", [organization.pk])
    (query,) = queries.captured_queries
    assert query["sql"].endswith(f" = {organization.pk}")
    # Django's own queries keep binding on the client: however often run, never prepared.
    for _ in range(6):
        assert list(Organization.objects.filter(name="no such one")) == []
    assert _prepared_statements() == prepared


def test_a_read_planned_per_run_is_never_prepared():
    organization = OrganizationFactory.create()
    # A condition no other statement has, to find this read among the connection's.
    condition = "{id} = %s AND {invoca_id} IS NOT NULL"
    for planned_per_run in (True, False):
        for _ in range(6):  # past the threshold of 5 runs on this connection
            assert rows_select(
                Organization,
                ("name",),
                condition,
                [organization.pk],
                planned_per_run=planned_per_run,
            ) == [(organization.name,)]
        if connection.vendor == "postgresql":
            marker = quoted_columns(Organization, ("invoca_id",))[0] + " IS NOT NULL"
            prepared = [text for text in _prepared_statements() if marker in text]
            assert bool(prepared) is not planned_per_run
