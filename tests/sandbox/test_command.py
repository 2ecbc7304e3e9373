"""`manage.py sandbox_feed`: argument parsing and a real run in a child process.

Django is imported but never configured with the project's settings: the command needs none.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

pytest.importorskip("django")

from calls.management.commands.sandbox_feed import (
    Command,
    OrgSpec,
    build_feed,
    parse_org_spec,
)
from calls.sandbox.server import OrganizationAccount, SandboxFeed

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Runs the command the way manage.py would, with bare settings instead of the project's.
CHILD = """
import django
from django.conf import settings
settings.configure()
django.setup()
from django.core.management import call_command
from calls.management.commands.sandbox_feed import Command
call_command(Command(), *{args!r})
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1001:abc", OrgSpec("1001", "abc", "Network", False)),
        ("7:tok:Advertiser", OrgSpec("7", "tok", "Advertiser", False)),
        ("7:tok:Advertiser:slim", OrgSpec("7", "tok", "Advertiser", True)),
        ("7:tok:slim", OrgSpec("7", "tok", "Network", True)),
    ],
)
def test_parse_org_spec(text: str, expected: OrgSpec) -> None:
    assert parse_org_spec(text) == expected


@pytest.mark.parametrize("text", ["1001", ":tok", "1001:", "1:t:network", "1:t:Network:fat"])
def test_parse_org_spec_rejects_bad_specs(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_org_spec(text)


def account(feed: SandboxFeed, token: str) -> OrganizationAccount:
    found = feed.account_for_token(token)
    assert found is not None
    return found


def parse(*argv: str) -> dict:
    return vars(Command().create_parser("manage.py", "sandbox_feed").parse_args(argv))


def test_defaults_serve_the_demo_organization() -> None:
    feed = build_feed(parse("--port", "0"))
    assert [org["invoca_id"] for org in feed.stats()["organizations"]] == ["1001"]
    assert account(feed, "sandbox-demo-token").organization_type == "Network"


def test_options_reach_the_feed() -> None:
    options = parse(
        "--port",
        "0",
        "--seed",
        "5",
        "--target-live",
        "3",
        "--min-duration",
        "5",
        "--max-duration",
        "9",
        "--org",
        "1:a:Advertiser:slim",
        "--org",
        "2:b",
    )
    feed = build_feed(options)
    assert feed.population.seed == 5
    assert (feed.population.min_duration, feed.population.max_duration) == (5.0, 9.0)
    assert feed.population.live_count("1") == 3
    assert account(feed, "a").slim is True
    assert account(feed, "b").organization_type == "Network"


def test_help_mentions_every_option() -> None:
    text = Command().create_parser("manage.py", "sandbox_feed").format_help()
    for option in (
        "--port",
        "--host",
        "--seed",
        "--org",
        "--target-live",
        "--min-duration",
        "--max-duration",
        "/_sandbox/fault",
        "/_sandbox/stats",
    ):
        assert option in text


@contextlib.contextmanager
def _sandbox_child(args: list[str]) -> Iterator[subprocess.Popen[str]]:
    """`manage.py sandbox_feed` in a child process, killed afterwards if it is still running."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(args=args)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_ctrl_c_right_after_the_url_stops_it_cleanly() -> None:
    # Often lands while the organizations are still being listed on stderr.
    with _sandbox_child(["--port", "0", "--org", "55:tok", "--org", "56:tok2"]) as child:
        assert child.stdout is not None
        assert child.stdout.readline().startswith("http://127.0.0.1:")
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=10) == 0


def test_runs_until_interrupted_and_prints_the_url() -> None:
    with _sandbox_child(["--port", "0", "--org", "55:child-token:Advertiser"]) as child:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api/2022-08-01")
        response = requests.get(
            url + "/calls_in_progress/current_calls.json",
            params={"organization_type": "Advertiser", "id": "55"},
            headers={"Authorization": "child-token"},
            timeout=5,
        )
        assert response.status_code == 200
        assert len(response.json()["current_calls"]) >= 5
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=10) == 0
