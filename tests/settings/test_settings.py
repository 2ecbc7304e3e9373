"""Settings as a fresh process sees them: nothing set, production set, and each bad value
failing at start-up with a message that names its variable.

Every check runs in a subprocess with an explicit environment: the test process itself runs
with the variables tests.plugin sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "engine": s.DATABASES["default"]["ENGINE"],
    "db_name": str(s.DATABASES["default"]["NAME"]),
    "db_host": s.DATABASES["default"].get("HOST", ""),
    "broker": s.CELERY_BROKER_URL,
    "cache": s.CACHES["default"]["BACKEND"],
    "cache_location": s.CACHES["default"].get("LOCATION", ""),
    "debug": s.DEBUG,
    "hosts": s.ALLOWED_HOSTS,
    "keys": len(s.TOKEN_ENCRYPTION_KEYS),
    "secret_key_length": len(s.SECRET_KEY),
    "tick": s.POLL_TICK_SECONDS,
    "static_root": str(s.STATIC_ROOT),
    "proxy_count": s.PROXY_COUNT,
    "prepare_threshold": s.DATABASES["default"].get("OPTIONS", {}).get("prepare_threshold"),
}))
"""
PRODUCTION = {
    "DATABASE_URL": "postgres://cip:pw@db.internal:5432/cipdash",
    "REDIS_URL": "redis://cache.internal:6379/1",
    "SECRET_KEY": "k" * 50,
    "ALLOWED_HOSTS": "cipdash.example.com,www.cipdash.example.com",
    "TOKEN_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
}


def run(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "cipdash.settings",
    }
    return subprocess.run(
        [sys.executable, *(["-c", code] if code else []), *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def probe(env: dict[str, str]) -> dict:
    done = run(PROBE, env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_no_environment_runs_embedded(tmp_path):
    seen = probe({"CIPDASH_DATA_DIR": str(tmp_path)})
    assert seen["engine"] == "cipdash.sqlite_backend"
    assert seen["db_name"] == str(tmp_path / "cipdash.sqlite3")
    assert seen["broker"] == "filesystem://localhost//"
    assert seen["cache"].endswith("DatabaseCache")
    assert seen["debug"] is False and seen["keys"] == 1 and seen["secret_key_length"] >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # generated, private
    assert (tmp_path / "broker" / "queue").is_dir()
    again = probe({"CIPDASH_DATA_DIR": str(tmp_path)})
    assert again == seen  # the same generated secrets after a restart


def test_manage_py_check_with_no_environment_at_all():
    # Not even CIPDASH_DATA_DIR: the defaults must stand on their own.
    done = run("", {}, "manage.py", "check")
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


def test_production_from_the_environment():
    seen = probe(PRODUCTION)
    assert seen["engine"] == "cipdash.postgresql_backend"
    assert seen["prepare_threshold"] == 5  # a poll's statements are prepared on the server
    assert (seen["db_name"], seen["db_host"]) == ("cipdash", "db.internal")
    assert seen["broker"] == PRODUCTION["REDIS_URL"]
    assert seen["cache"].endswith("RedisCache")
    assert seen["cache_location"] == PRODUCTION["REDIS_URL"]
    assert seen["hosts"] == ["cipdash.example.com", "www.cipdash.example.com"]
    assert seen["keys"] == 2


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"TOKEN_ENCRYPTION_KEYS": ""}, "TOKEN_ENCRYPTION_KEYS"),
        ({"TOKEN_ENCRYPTION_KEYS": "not-a-key"}, "TOKEN_ENCRYPTION_KEYS"),
        ({"DATABASE_URL": "nosuchdb://x/y"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://cache:6379"}, "REDIS_URL"),
        ({"ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DATABASE_PREPARED_STATEMENTS": "sometimes"}, "DATABASE_PREPARED_STATEMENTS"),
        ({"POLL_TICK_SECONDS": "nan"}, "POLL_TICK_SECONDS"),
        ({"POLL_READ_TIMEOUT": "inf"}, "POLL_READ_TIMEOUT"),
        ({"POLL_MAX_RESPONSE_BYTES": "1.5"}, "POLL_MAX_RESPONSE_BYTES"),
        ({"PURGE_HOUR_UTC": "24"}, "PURGE_HOUR_UTC"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"PROXY_COUNT": "-1"}, "PROXY_COUNT"),
        ({"PROXY_COUNT": "one"}, "PROXY_COUNT"),
        ({"METRICS_ALLOWED_IPS": "10.0.0.0/8,prometheus.internal"}, "METRICS_ALLOWED_IPS"),
        ({"METRICS_CACHE_SECONDS": "-1"}, "METRICS_CACHE_SECONDS"),
        ({"CIPDASH_DATA_DIR": "/proc/cipdash-cannot-be-here"}, "CIPDASH_DATA_DIR"),
        # Durations past any sense, which date arithmetic would only refuse at run time.
        ({"SESSION_COOKIE_AGE": "1000000000000"}, "SESSION_COOKIE_AGE"),
        ({"AXES_COOLOFF_MINUTES": "1e12"}, "AXES_COOLOFF_MINUTES"),
        ({"POLL_BACKOFF_MAX_SECONDS": "1e300"}, "POLL_BACKOFF_MAX_SECONDS"),
        ({"CALL_UNCONFIRMED_END_SECONDS": "1e12"}, "CALL_UNCONFIRMED_END_SECONDS"),
        ({"POLL_TOTAL_TIMEOUT": "86400"}, "POLL_TOTAL_TIMEOUT"),
        ({"POLL_TICK_SECONDS": "3600"}, "POLL_TICK_SECONDS"),
        ({"METRICS_CACHE_SECONDS": "1e10"}, "METRICS_CACHE_SECONDS"),
    ],
)
def test_bad_values_fail_at_start_up_naming_the_variable(change, variable):
    done = run("import django; django.setup()", {**PRODUCTION, **change})
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last and variable in last, done.stderr


def test_static_files_for_the_proxy_can_live_outside_the_private_data_directory(tmp_path):
    seen = probe({"CIPDASH_DATA_DIR": str(tmp_path / "data")})
    assert seen["static_root"] == str(tmp_path / "data" / "static")
    assert seen["proxy_count"] == 0  # X-Forwarded-For ignored unless proxies are declared
    public = probe(
        {
            "CIPDASH_DATA_DIR": str(tmp_path / "data"),
            "STATIC_ROOT": str(tmp_path / "www"),
            "PROXY_COUNT": "2",
        }
    )
    assert (public["static_root"], public["proxy_count"]) == (str(tmp_path / "www"), 2)


def test_secrets_are_not_required_without_a_production_database(tmp_path):
    seen = probe({"CIPDASH_DATA_DIR": str(tmp_path), "POLL_TICK_SECONDS": "0.5"})
    assert seen["tick"] == 0.5


def test_prepared_statements_can_be_turned_off_for_a_pooler_that_cannot_keep_them():
    seen = probe({**PRODUCTION, "DATABASE_PREPARED_STATEMENTS": "false"})
    assert seen["engine"] == "cipdash.postgresql_backend"
    assert seen["prepare_threshold"] is None  # Django's default: psycopg prepares nothing


def test_sqlite_database_url_keeps_the_batching_backend(tmp_path):
    seen = probe(
        {
            **PRODUCTION,
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
            "CIPDASH_DATA_DIR": str(tmp_path),
        }
    )
    assert seen["engine"] == "cipdash.sqlite_backend"


# Opens the database and writes to it, holding the connection so the write-ahead log and
# shared-memory files exist while their modes are read.
MODES_PROBE = """
import json, os, stat, django
django.setup()
from django.conf import settings
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS probe (x)")
    cursor.execute("INSERT INTO probe VALUES (1)")
names = ["", "cipdash.sqlite3", "cipdash.sqlite3-wal", "cipdash.sqlite3-shm", "secret_key",
         "token_key"]
print(json.dumps({
    name: stat.S_IMODE(os.stat(os.path.join(settings.DATA_DIR, name)).st_mode)
    for name in names
}))
"""
PRIVATE_MODES = {
    "": 0o700,
    "cipdash.sqlite3": 0o600,
    "cipdash.sqlite3-wal": 0o600,
    "cipdash.sqlite3-shm": 0o600,
    "secret_key": 0o600,
    "token_key": 0o600,
}


def private_modes(data_dir: Path) -> dict[str, int]:
    done = run(MODES_PROBE, {"CIPDASH_DATA_DIR": str(data_dir)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_new_data_directory_is_private(tmp_path):
    assert private_modes(tmp_path / "nested" / "data") == PRIVATE_MODES


def test_an_existing_data_directory_of_ours_is_made_private(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    first = private_modes(data_dir)  # a database and secrets, as an earlier version left them
    assert first == PRIVATE_MODES
    for name in ("", "cipdash.sqlite3", "secret_key", "token_key"):
        (data_dir / name).chmod(0o755 if name == "" else 0o644)
    # Write-ahead log files a process that died mid-work left behind, readable by everyone.
    died = run(
        "import os, sqlite3; connection = sqlite3.connect(os.environ['DB']);"
        " connection.execute('PRAGMA wal_autocheckpoint=0');"
        " connection.execute('INSERT INTO probe VALUES (2)'); connection.commit(); os._exit(0)",
        {"DB": str(data_dir / "cipdash.sqlite3")},
    )
    assert died.returncode == 0, died.stderr
    for suffix in ("-wal", "-shm"):
        leftover = data_dir / f"cipdash.sqlite3{suffix}"
        assert leftover.stat().st_size > 0  # SQLite itself resets the mode of empty ones
        leftover.chmod(0o644)
    assert private_modes(data_dir) == PRIVATE_MODES


def test_a_shared_directory_named_as_the_data_directory_keeps_its_mode(tmp_path):
    # CIPDASH_DATA_DIR pointed at a place other programs use: its mode is not cipdash's to
    # change, while what cipdash writes there is still private.
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    (shared / "someone-elses.conf").touch()
    modes = private_modes(shared)
    assert modes[""] == 0o755
    assert {name: mode for name, mode in modes.items() if name} == {
        name: mode for name, mode in PRIVATE_MODES.items() if name
    }


def test_metrics_access_is_read_from_the_environment():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print([str(n) for n in s.METRICS_ALLOWED_IPS], bool(s.METRICS_TOKEN))"
    )
    done = run(code, {**PRODUCTION, "METRICS_ALLOWED_IPS": " 10.1.2.3, 192.168.0.0/16,::1 "})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "['10.1.2.3/32', '192.168.0.0/16', '::1/128'] False"
