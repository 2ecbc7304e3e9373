"""The Procfile, the CI entry point and the helper scripts `make run` and `make test` use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from calls.management.commands.demo_setup import DEMO_FEED_PORT, DEMO_FEED_URL, DEMO_ORGANIZATIONS
from calls.management.commands.sandbox_feed import Command as SandboxFeedCommand

ROOT = Path(__file__).resolve().parent.parent


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            assert name not in entries, f"{name} twice in the Procfile"
            entries[name] = command.strip()
    return entries


def test_procfile_runs_web_worker_exactly_one_beat_and_the_feed():
    entries = procfile()
    assert set(entries) == {"web", "worker", "beat", "sandbox"}
    assert "runserver 127.0.0.1:8000" in entries["web"]
    assert entries["worker"].startswith("celery -A cipdash worker")
    assert entries["beat"].startswith("celery -A cipdash beat")
    assert sum("beat" in command for command in entries.values()) == 1


def test_procfile_feed_serves_what_demo_setup_polls():
    # The words as honcho's shell expands them, then parsed as sandbox_feed parses them.
    expanded = subprocess.run(
        ["sh", "-c", f"set -- {procfile()['sandbox']}; printf '%s\\0' \"$@\""],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    words = expanded.rstrip("\0").split("\0")
    assert words[:3] == ["python", "manage.py", "sandbox_feed"]
    arguments = words[3:]
    options = SandboxFeedCommand().create_parser("manage.py", "sandbox_feed").parse_args(arguments)

    assert f"http://127.0.0.1:{options.port}/" in DEMO_FEED_URL
    assert options.port == DEMO_FEED_PORT
    assert [(o.invoca_id, o.token, o.organization_type, o.slim) for o in options.org] == [
        (d.invoca_id, d.token, d.organization_type, d.slim) for d in DEMO_ORGANIZATIONS
    ]
    # Calls must visibly come and go on the demo page within a minute.
    assert 0 < options.min_duration <= options.max_duration <= 90


def test_ci_entry_point_is_executable_and_runs_make_test():
    script = ROOT / ".ci" / "run"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert text.rstrip().endswith("make test")
    subprocess.run(["bash", "-n", str(script)], check=True)


def fake_apt(tmp_path: Path) -> Path:
    """apt-get and sudo stand-ins that record their arguments instead of installing."""
    log = tmp_path / "apt.log"
    for name, body in {
        "apt-get": f'echo "apt-get $*" >> {log}',
        "sudo": 'exec "$@"',
    }.items():
        program = tmp_path / name
        program.write_text(f"#!/bin/sh\n{body}\n")
        program.chmod(0o755)
    return log


def apt_ensure(tmp_path: Path, *specs: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    return subprocess.run(
        [str(ROOT / "scripts" / "apt-ensure"), *specs],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


def test_apt_ensure_does_nothing_when_every_program_is_there(tmp_path):
    log = fake_apt(tmp_path)
    result = apt_ensure(tmp_path, "bash:bash", f"python3:{sys.executable}")
    assert result.stdout == ""
    assert not log.exists()


def test_apt_ensure_installs_only_the_missing_packages_in_one_run(tmp_path):
    log = fake_apt(tmp_path)
    apt_ensure(
        tmp_path,
        "bash:bash",
        "chromium,fonts-liberation:/no/such/dir/chromium",
        "postgresql:/no/such/lib/postgresql/*/bin/initdb",
        "redis-server:no-such-program-cipdash",
    )
    assert log.read_text().splitlines() == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends "
        "chromium fonts-liberation postgresql redis-server",
    ]


@pytest.mark.parametrize("python", ["", sys.executable])
def test_find_python_prints_a_python_that_can_make_a_venv(python):
    result = subprocess.run(
        [str(ROOT / "scripts" / "find-python")],
        env={**os.environ, "PYTHON": python},
        capture_output=True,
        text=True,
        check=True,
    )
    found = result.stdout.strip()
    check = "import sys, venv, ensurepip; assert sys.version_info >= (3, 11)"
    subprocess.run([found, "-c", check], check=True)
    if python:
        assert Path(found).resolve() == Path(sys.executable).resolve()
