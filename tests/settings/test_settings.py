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
    assert seen["engine"] == "cipdash.sqlite3"
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
    assert seen["engine"] == "django.db.backends.postgresql"
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
        ({"POLL_TICK_SECONDS": "nan"}, "POLL_TICK_SECONDS"),
        ({"POLL_READ_TIMEOUT": "inf"}, "POLL_READ_TIMEOUT"),
        ({"POLL_MAX_RESPONSE_BYTES": "1.5"}, "POLL_MAX_RESPONSE_BYTES"),
        ({"PURGE_HOUR_UTC": "24"}, "PURGE_HOUR_UTC"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"CIPDASH_DATA_DIR": "/proc/cipdash-cannot-be-here"}, "CIPDASH_DATA_DIR"),
    ],
)
def test_bad_values_fail_at_start_up_naming_the_variable(change, variable):
    done = run("import django; django.setup()", {**PRODUCTION, **change})
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last and variable in last, done.stderr


def test_secrets_are_not_required_without_a_production_database(tmp_path):
    seen = probe({"CIPDASH_DATA_DIR": str(tmp_path), "POLL_TICK_SECONDS": "0.5"})
    assert seen["tick"] == 0.5


def test_sqlite_database_url_keeps_the_batching_backend(tmp_path):
    seen = probe(
        {
            **PRODUCTION,
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
            "CIPDASH_DATA_DIR": str(tmp_path),
        }
    )
    assert seen["engine"] == "cipdash.sqlite3"
