"""The private parts of dependencies that the product still relies on, each kept because a
benchmark figure or a bug needs it (the docstring of the code that uses it says which).

A failure here means an upgrade changed one of them: read the code named in the test before
moving that dependency's pin in pyproject.toml, rather than after a poll fails in production.
"""

from __future__ import annotations

import base64
import inspect
import pickle
import re
import sqlite3
import tomllib
from pathlib import Path
from typing import Any

import pytest
import redis
from celery.beat import Scheduler
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3 import base as sqlite_base
from django.db.backends.sqlite3.creation import DatabaseCreation
from django.db.backends.sqlite3.features import DatabaseFeatures
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models.expressions import Col
from kombu.transport import filesystem
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import NameResolutionError
from urllib3.response import HTTPResponse

from calls import sql
from calls.models import ApiToken, Organization, OrganizationPollState
from tests.test_dependencies import requirement_name

ROOT = Path(__file__).resolve().parent.parent
# Each dependency whose internals the product uses, kept below its next major (or minor) release.
PINNED = ("django", "urllib3", "requests", "kombu", "celery", "psycopg")


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def requirement(name: str) -> str:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    found = [line for line in dependencies if requirement_name(line) == name]
    assert len(found) == 1, (name, found)
    return str(found[0])


@pytest.mark.parametrize("name", PINNED)
def test_each_dependency_with_a_hook_has_an_upper_bound(name):
    assert re.search(r">=[\d.]+\s*,\s*<[\d.]+", requirement(name)), requirement(name)


def test_django_redis_cache_hands_out_its_redis_client(redis_url, redis_client):
    """calls.services.poll_lock: the release is one compare-and-delete script, which Django's
    cache API cannot send (without it a poll whose lock expired deletes the next holder's)."""
    cache = RedisCache(redis_url, {})
    key = cache.make_and_validate_key("shape")
    assert parameters(cache._cache.get_client) == ["key", "write"]
    client = cache._cache.get_client(key, write=True)
    assert isinstance(client, redis.Redis)
    cache.set("shape", 7)
    assert client.eval("return redis.call('get', KEYS[1])", 1, key) == b"7"


@pytest.mark.django_db
def test_django_database_cache_stores_a_value_as_base64_of_its_pickle():
    """calls.services.poll_lock: without Redis, the release deletes the lock's row only where
    it still holds this owner's value, in one statement (the same compare-and-delete)."""
    cache = DatabaseCache("cipdash_cache", {})
    cache.set("shape", 7)
    key = cache.make_and_validate_key("shape")
    table = connection.ops.quote_name(cache.cache_model_class._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {table} WHERE cache_key = %s", [key])  # noqa: S608
        (stored,) = cursor.fetchone()
    assert stored == base64.b64encode(pickle.dumps(7, cache.pickle_protocol)).decode("latin1")


@pytest.mark.django_db
def test_django_cursor_runs_any_executor_through_its_execute_wrappers():
    """calls.services.bulk_sql._copy: a COPY goes through the cursor's execute wrappers like
    any statement (PostgreSQL ingest of the 10/5/5 % mix: COPY 40 to 60 ms against 85 to
    190 ms for the same rows as a multi-row INSERT, bench/README.md "Ingest")."""
    execute_with_wrappers: Any = CursorWrapper._execute_with_wrappers  # type: ignore[attr-defined]
    assert parameters(execute_with_wrappers) == [
        "self",
        "sql",
        "params",
        "many",
        "executor",
    ]
    assert "sql" in parameters(CursorDebugWrapper.debug_sql)
    assert callable(BaseDatabaseWrapper.validate_no_broken_transaction)
    assert hasattr(connection, "wrap_database_errors")
    wrapped: list[str] = []
    executed: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        wrapped.append(sql)
        return execute(sql, params, many, context)

    def executor(sql: str, params: Any, *_: Any) -> None:
        executed.append(sql)

    with connection.execute_wrapper(wrapper), connection.cursor() as cursor:
        cursor._execute_with_wrappers("COPY shape", None, many=False, executor=executor)
    assert wrapped == executed == ["COPY shape"]


def test_django_sqlite_backend_asks_features_for_its_variable_limit():
    """cipdash.sqlite_backend: one poll's statements stay the same in number at 500 and 5,000
    calls (6 unchanged, 12 for the mix, bench/README.md "Ingest") instead of one INSERT per
    999 variables."""
    assert isinstance(DatabaseFeatures.max_query_params, int)
    assert parameters(sqlite_base.DatabaseWrapper.get_new_connection) == ["self", "conn_params"]
    assert DatabaseCreation.is_in_memory_db(":memory:")
    assert not DatabaseCreation.is_in_memory_db("/srv/cipdash.sqlite3")
    with sqlite3.connect(":memory:") as database:
        assert database.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) > 999


def test_kombu_filesystem_channel_puts_through_one_method():
    """cipdash.broker: each message is written whole before a worker can take it (`make run`
    lost polls under load when a worker took a half-written file)."""
    assert parameters(filesystem.Channel._put) == ["self", "queue", "payload", "kwargs"]
    assert "data_folder_out" in dir(filesystem.Channel)
    assert filesystem.Transport.Channel is filesystem.Channel


def test_urllib3_connections_resolve_and_connect_in_overridable_steps():
    """calls.invoca.deadline: a host name lookup bounded by the poll's deadline, connections
    only to the addresses checked against the allowed hosts, and reused sockets handed to the
    deadline (a server dripping bytes, or a resolver that never answers, held a poll for ever)."""
    connection = HTTPConnection("invoca.example", 8443)
    assert connection._dns_host == "invoca.example"
    assert connection.port == 8443 and connection.proxy is None
    assert parameters(HTTPConnection._new_conn) == ["self"]
    assert parameters(HTTPConnectionPool._get_conn) == ["self", "timeout"]
    assert HTTPConnectionPool.ConnectionCls is HTTPConnection
    assert parameters(NameResolutionError.__init__) == ["self", "host", "conn", "reason"]


def test_requests_adapter_builds_a_pool_manager_with_replaceable_pool_classes():
    """calls.invoca.deadline._WatchedAdapter: the pools it builds use the watched connections."""
    assert parameters(HTTPAdapter.init_poolmanager)[:4] == [
        "self",
        "connections",
        "maxsize",
        "block",
    ]
    adapter = HTTPAdapter()
    assert set(adapter.poolmanager.pool_classes_by_scheme) == {"http", "https"}


def test_urllib3_response_reads_whatever_has_arrived():
    """calls.invoca.client._chunks: the total deadline is checked after every read, even
    against a server that sends one byte at a time."""
    assert parameters(HTTPResponse.read1) == ["self", "amt", "decode_content"]


def test_celery_beat_sends_each_due_entry_through_apply_async():
    """cipdash.celery.PollingScheduler: the poll tick runs inside beat, so slots are claimed on
    time under load (bench/README.md "Many organizations")."""
    assert parameters(Scheduler.apply_async) == ["self", "entry", "producer", "advance", "kwargs"]
    assert parameters(Scheduler.reserve) == ["self", "entry"]


@pytest.mark.parametrize("model", [Organization, OrganizationPollState, ApiToken])
def test_django_compiler_converts_a_column_with_the_backends_then_the_fields_converters(model):
    """calls.sql.instance_from_row: what a poll reads first (calls.selectors.polling.
    poll_subject) is one statement written once, its values converted the compiler's way
    (about 70 µs a call instead of 490 through the ORM on SQLite)."""
    assert parameters(connection.ops.get_db_converters) == ["expression"]
    assert parameters(Col.get_db_converters) == ["self", "connection"]
    compiler = model.objects.all().query.get_compiler(using=connection.alias)
    compiler.setup_query()
    columns = [column for column, _, _ in compiler.select]
    assert [column.target for column in columns] == list(model._meta.concrete_fields)
    theirs = {position: found for position, (found, _) in compiler.get_converters(columns).items()}
    ours = {position: found for position, found, _ in sql._converters(model, connection.ops)}
    assert ours == theirs


@pytest.mark.django_db
def test_django_postgresql_backend_makes_its_cursors_in_create_cursor():
    """cipdash/postgresql_backend: cursor() gets its driver cursor from create_cursor(name),
    and the module has a cursor class that binds parameters on the server."""
    from django.db.backends.postgresql import base as postgresql_base

    assert parameters(postgresql_base.DatabaseWrapper.create_cursor) == ["self", "name"]
    cursor_made = inspect.getsource(BaseDatabaseWrapper._cursor)  # type: ignore[attr-defined]
    assert "self.create_cursor(name)" in cursor_made
    assert not issubclass(postgresql_base.ServerBindingCursor, postgresql_base.Cursor)
    if connection.vendor == "postgresql":
        with connection.prepared_cursor() as cursor:  # type: ignore[attr-defined]
            assert isinstance(cursor.cursor, postgresql_base.ServerBindingCursor)
        with connection.cursor() as cursor:
            assert isinstance(cursor.cursor, postgresql_base.Cursor)
