"""Bulk writes from ready-made rows (calls.services.bulk_sql): what lands in the table, what
comes back, and that every statement is seen like any other."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls.invoca.decoding import current_calls_read
from calls.models import Call, CallSnapshot, Organization
from calls.services import bulk_sql, ingest
from calls.services.bulk_sql import db_datetime, db_json, rows_insert, rows_upsert
from calls.sql import rows_select
from tests.factories import OrganizationFactory, call_payload

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _campaign(status: str) -> str:
    return f'<{status}> ünï 😀 "q" \\ \t\n'  # what COPY and SQL text must carry intact


def _row(org: Organization, transaction_id: str, status: str, when: datetime) -> tuple[Any, ...]:
    """A call's row as the ingest builds it."""
    payload = call_payload(
        transaction_id,
        call_status=status,
        custom_data={"Campaign": {"value": _campaign(status), "source": "API"}},
    )
    (call,) = current_calls_read(json.dumps({"current_calls": [payload]}).encode()).calls
    return ingest._call_values(org.pk, call, ingest._fields_json(call), db_datetime(when))


def _upsert(rows: list[tuple[Any, ...]]) -> dict[str, int]:
    written = rows_upsert(
        Call,
        ingest._CALL_FIELDS,
        rows,
        conflict=("organization", "transaction_id"),
        update=ingest._UPSERT_FIELDS,
        returning=("transaction_id", "id"),
    )
    return dict(written)


def test_an_upsert_inserts_new_rows_overwrites_known_ones_and_returns_every_id():
    org = OrganizationFactory.create()
    first = _upsert([_row(org, "A", "ringing", T0), _row(org, "B", "ringing", T0)])
    assert set(first) == {"A", "B"}

    later = T0 + timedelta(seconds=5)
    second = _upsert([_row(org, "B", "bridged", later), _row(org, "C", "ringing", later)])

    assert second["B"] == first["B"] and set(second) == {"B", "C"}
    b = Call.objects.get(pk=first["B"])
    assert b.call_status == "bridged" and b.last_seen_at == later
    assert b.first_seen_at == T0  # not among the columns an upsert overwrites
    assert b.custom_data == {"Campaign": {"value": _campaign("bridged"), "source": "API"}}
    assert b.calling_phone_number == "+13105550147" and b.call_record_id == "CR-B"
    assert Call.objects.get(pk=first["A"]).call_status == "ringing"
    assert Call.objects.count() == 3


def test_a_second_upsert_in_the_same_transaction_starts_from_nothing():
    org = OrganizationFactory.create()
    _upsert([_row(org, "A", "one", T0)])
    written = _upsert([_row(org, "B", "two", T0)])
    assert set(written) == {"B"}  # nothing of the first upsert was written again


def test_json_orjson_cannot_write_is_written_as_the_field_would():
    huge = 2**70  # beyond 64 bits: the standard encoder writes it
    assert db_json({"n": huge}) == '{"n": 1180591620717411303424}'
    with pytest.raises(TypeError):
        db_json({"when": object()})


def test_an_insert_of_snapshots_lands_each_row_once_in_one_statement():
    org = OrganizationFactory.create()
    ids = _upsert([_row(org, f"T{i}", "ringing", T0) for i in range(3)])
    rows = [
        (call_id, db_datetime(T0), "hash", "ringing", "{}", "{}", '{"age": 40}', '{"x": [1]}')
        for call_id in ids.values()
    ]
    with CaptureQueriesContext(connection) as queries:
        rows_insert(CallSnapshot, ingest._SNAPSHOT_FIELDS, rows)
    assert len(queries.captured_queries) == 1
    assert queries.captured_queries[0]["sql"].split()[0] in {"INSERT", "COPY"}
    snapshots = CallSnapshot.objects.order_by("call_id")
    assert [s.call_id for s in snapshots] == sorted(ids.values())
    assert {(s.demographics["age"], s.payload_data()["x"][0]) for s in snapshots} == {(40, 1)}


@pytest.fixture(params=["few rows", "copy from one row"])
def way(request, monkeypatch) -> str:
    """The way rows are written: on PostgreSQL, as one JSON document, or by COPY from
    COPY_FROM_ROWS rows on; SQLite has the one way, a multi-row INSERT."""
    if request.param == "copy from one row":
        monkeypatch.setattr(bulk_sql, "COPY_FROM_ROWS", 1)
    if connection.vendor != "postgresql":
        return "insert"
    return "copy" if request.param == "copy from one row" else "json"


def test_every_statement_goes_through_the_execute_wrappers(way):
    org = OrganizationFactory.create()
    seen: list[str] = []

    def spy(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        seen.append(sql.split()[0])
        list(params or ())  # a wrapper that reads the parameters takes no row from a COPY
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        _upsert([_row(org, "A", "ringing", T0)])
    assert Call.objects.filter(transaction_id="A").exists()
    assert seen == (["CREATE", "COPY", "WITH"] if way == "copy" else ["INSERT"])


def test_no_statement_passes_the_databases_parameter_limit(way, monkeypatch):
    per_row = len(ingest._CALL_FIELDS)
    monkeypatch.setattr(type(connection.features), "max_query_params", per_row * 2)
    org = OrganizationFactory.create()
    with CaptureQueriesContext(connection) as queries:
        written = _upsert([_row(org, f"T{i}", "ringing", T0) for i in range(5)])
    statements = [query["sql"].split()[0] for query in queries.captured_queries]
    if way == "copy":  # COPY streams rows: no parameters to count
        assert statements == ["CREATE", "COPY", "WITH"]
    elif way == "json":  # the rows are one parameter
        assert statements == ["INSERT"]
    else:  # two rows a statement: 2 + 2 + 1
        assert statements == ["INSERT", "INSERT", "INSERT"]
    assert len(written) == 5 and Call.objects.count() == 5


def test_a_few_rows_go_to_postgresql_as_one_json_parameter(way):
    org = OrganizationFactory.create()
    with CaptureQueriesContext(connection) as queries:
        _upsert([_row(org, "A", "ringing", T0), _row(org, "B", "ringing", T0)])
    as_json = ["jsonb_populate_recordset" in query["sql"] for query in queries.captured_queries]
    assert as_json == ([True] if way == "json" else [False] * len(as_json))
    b = Call.objects.get(transaction_id="B")
    assert b.custom_data == {"Campaign": {"value": _campaign("ringing"), "source": "API"}}
    assert b.bridge_start_time == datetime(2026, 11, 23, 17, 14, 7, tzinfo=UTC)
    assert (b.first_seen_at, b.sighting_current, b.ended_at) == (T0, True, None)


def test_a_value_orjson_refuses_is_sent_as_a_parameter_as_before(way):
    """Text with a lone surrogate: no JSON for orjson, and refused by the driver as it
    always was, not by the JSON path."""
    org = OrganizationFactory.create()
    row = list(_row(org, "A", "ringing", T0))
    row[ingest._CALL_FIELDS.index("call_status")] = "ringing \ud800"
    with pytest.raises(UnicodeEncodeError):
        _upsert([tuple(row)])


def test_a_few_rows_are_inserted_and_many_copied_on_postgresql():
    org = OrganizationFactory.create()
    few = [_row(org, f"F{i}", "ringing", T0) for i in range(bulk_sql.COPY_FROM_ROWS - 1)]
    many = [_row(org, f"M{i}", "ringing", T0) for i in range(bulk_sql.COPY_FROM_ROWS)]
    firsts = []
    for rows in (few, many):
        with CaptureQueriesContext(connection) as queries:
            assert len(_upsert(rows)) == len(rows)
        firsts.append(queries.captured_queries[0]["sql"].split()[0])
    assert firsts == ["INSERT", "CREATE" if connection.vendor == "postgresql" else "INSERT"]
    assert Call.objects.count() == len(few) + len(many)


def test_a_call_row_has_a_value_for_every_column():
    """The ingest builds rows by position: a column added to Call or CallSnapshot must be
    added to its field list (and row builder) too."""
    call_columns = {f.name for f in Call._meta.concrete_fields if not f.primary_key}
    snapshot_columns = {f.name for f in CallSnapshot._meta.concrete_fields if not f.primary_key}
    assert set(ingest._CALL_FIELDS) == call_columns
    assert len(ingest._CALL_FIELDS) == len(call_columns)
    assert set(ingest._SNAPSHOT_FIELDS) == snapshot_columns


def test_a_select_answers_the_fields_of_the_rows_its_condition_names():
    org, other = OrganizationFactory.create(), OrganizationFactory.create()
    ids = _upsert([_row(org, "LIVE", "active", T0), _row(org, "ENDED", "active", T0)])
    _upsert([_row(other, "ELSEWHERE", "active", T0)])
    Call.objects.filter(transaction_id="ENDED").update(ended_at=T0)
    Call.objects.filter(transaction_id="LIVE").update(missed_polls=3)
    condition = "{organization} = %s AND {ended_at} IS NULL"

    with CaptureQueriesContext(connection) as queries:
        rows = rows_select(Call, ("transaction_id", "id", "missed_polls"), condition, [org.pk])

    assert rows == [("LIVE", ids["LIVE"], 3)]
    assert len(queries) == 1
    assert rows_select(Call, ("transaction_id",), condition, [other.pk]) == [("ELSEWHERE",)]
