"""Production settings pass Django's deployment checklist; every response carries the
headers that keep the pages to our own scripts and out of other sites' frames."""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from cipdash.middleware import CONTENT_SECURITY_POLICY
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
_SETTINGS_PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({name: getattr(s, name) for name in ["
    "'DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', "
    "'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_CONTENT_TYPE_NOSNIFF', "
    "'SECURE_REFERRER_POLICY', 'X_FRAME_OPTIONS', 'SECURE_REDIRECT_EXEMPT', 'LOGGING']}))"
)


def production_environment(**overrides: str) -> dict[str, str]:
    """What a production deployment sets; no server needs to run for these checks."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "cipdash.settings",
        "CIPDASH_DATA_DIR": tempfile.mkdtemp(prefix="cipdash-prod-"),
        "DATABASE_URL": "postgres://cipdash@db.internal:5432/cipdash",
        "REDIS_URL": "redis://cache.internal:6379/0",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "TOKEN_ENCRYPTION_KEYS": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
        "ALLOWED_HOSTS": "cipdash.example.com",
    }
    env.update(overrides)
    return env


def single_box_environment(base: Path, **overrides: str) -> dict[str, str]:
    """An install on the embedded database with DEBUG off: production too. Its data directory
    (under `base`) does not exist yet."""
    production = production_environment()
    env = {
        name: production[name]
        for name in ("PATH", "HOME", "PYTHONPATH", "DJANGO_SETTINGS_MODULE", "SECRET_KEY")
    }
    env["CIPDASH_DATA_DIR"] = str(base / "data")
    env.update({"DEBUG": "false", "ALLOWED_HOSTS": "calls.example.com"})
    env.update(overrides)
    return env


def run_python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def settings_seen(env: dict[str, str]) -> dict[str, Any]:
    done = run_python(env, "-c", _SETTINGS_PROBE)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def production_settings(**overrides: str) -> dict[str, Any]:
    return settings_seen(production_environment(**overrides))


def test_check_deploy_is_clean_with_production_settings():
    done = run_python(
        production_environment(), "manage.py", "check", "--deploy", "--fail-level", "WARNING"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout + done.stderr


def test_check_deploy_is_clean_on_the_embedded_database_with_debug_off(tmp_path):
    env = single_box_environment(tmp_path)
    done = run_python(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout + done.stderr
    data_dir = Path(env["CIPDASH_DATA_DIR"])
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "token_key").stat().st_mode) == 0o600


HTTPS_ONLY = ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")


def test_https_only_whenever_debug_is_off_whatever_the_database(tmp_path):
    for seen in (settings_seen(single_box_environment(tmp_path)), production_settings()):
        assert all(seen[name] is True for name in HTTPS_ONLY)
        assert seen["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600

    debugging = settings_seen(single_box_environment(tmp_path, DEBUG="true"))
    assert not any(debugging[name] for name in HTTPS_ONLY)
    assert debugging["SECURE_HSTS_SECONDS"] == 0

    # A plain-http LAN turns each off explicitly.
    lan = settings_seen(
        single_box_environment(
            tmp_path, SECURE_HSTS_SECONDS="0", **dict.fromkeys(HTTPS_ONLY, "off")
        )
    )
    assert not any(lan[name] for name in HTTPS_ONLY)
    assert lan["SECURE_HSTS_SECONDS"] == 0


def test_production_defaults_are_strict_and_configurable():
    strict = production_settings()
    assert strict["DEBUG"] is False
    assert strict["SESSION_COOKIE_SECURE"] and strict["CSRF_COOKIE_SECURE"]
    assert strict["SESSION_COOKIE_HTTPONLY"] and strict["SECURE_CONTENT_TYPE_NOSNIFF"]
    assert strict["SECURE_SSL_REDIRECT"] is True
    assert strict["SECURE_HSTS_SECONDS"] > 0
    assert strict["SECURE_REFERRER_POLICY"] == "same-origin"
    assert strict["X_FRAME_OPTIONS"] == "DENY"
    # Load balancers probe /healthz over plain HTTP.
    assert any(re.match(pattern, "healthz") for pattern in strict["SECURE_REDIRECT_EXEMPT"])

    relaxed = production_settings(SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
    assert (relaxed["SECURE_SSL_REDIRECT"], relaxed["SECURE_HSTS_SECONDS"]) == (False, 0)
    assert strict["LOGGING"]["handlers"]["console"]["formatter"] == "plain"

    tuned = production_settings(SECURE_HSTS_SECONDS="63072000", LOG_FORMAT="json")
    assert tuned["SECURE_HSTS_SECONDS"] == 63072000
    # One JSON object per line for log shippers.
    assert tuned["LOGGING"]["handlers"]["console"]["formatter"] == "json"
    assert tuned["LOGGING"]["formatters"]["json"]["()"] == "cipdash.logging.JsonFormatter"


def test_production_refuses_to_start_without_its_secrets():
    done = run_python(production_environment(SECRET_KEY=""), "-c", _SETTINGS_PROBE)
    assert done.returncode != 0 and "SECRET_KEY must be set" in done.stderr


@pytest.mark.django_db
def test_headers_allow_only_our_own_scripts(client, settings):
    client.force_login(UserFactory.create(is_staff=True))
    for url in (reverse("login"), reverse("calls:live")):
        response = client.get(url, secure=True)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert policy == CONTENT_SECURITY_POLICY
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["script-src"] == "'self'"
        assert "unsafe" not in policy and "http" not in policy
        assert directives["frame-ancestors"] == "'none'"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
        html = response.content.decode()
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts, url
        # Every script is a file of ours (htmx vendored by django-htmx included), none inline.
        for tag in scripts:
            source = re.search(r'\bsrc="([^"]+)"', tag)
            assert source and source.group(1).startswith(settings.STATIC_URL), tag
        assert not re.search(r"\son[a-z]+=", html), "inline event handlers are blocked by CSP"
    assert any("htmx" in tag for tag in scripts)
