"""The Procfile, the CI entry point and the helper scripts `make run` and `make test` use."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

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
    # honcho gives its first process the port it is started with (make run's PORT).
    assert next(iter(entries)) == "web"
    assert "runserver 127.0.0.1:$PORT" in entries["web"]
    assert entries["worker"].startswith("celery -A cipdash worker")
    assert entries["beat"].startswith("celery -A cipdash beat")
    assert sum("beat" in command for command in entries.values()) == 1


def test_procfile_feed_serves_what_demo_setup_polls():
    # The words as honcho's shell expands them, then parsed as sandbox_feed parses them.
    expanded = subprocess.run(
        ["sh", "-c", f"set -- {procfile()['sandbox']}; printf '%s\\0' \"$@\""],
        env={**os.environ, "SANDBOX_PORT": str(settings.SANDBOX_PORT)},
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


def listening_port() -> socket.socket:
    """A port something else already listens on (close the socket to free it)."""
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    return taken


def ports_free(*assignments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / "ports-free"), *assignments], capture_output=True, text=True
    )


def test_ports_free_names_the_variable_of_the_busy_port():
    with listening_port() as taken:
        busy = taken.getsockname()[1]
        with socket.socket() as probe:  # a port nothing listens on, freed again at once
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        result = ports_free(f"PORT={free}", f"SANDBOX_PORT={busy}")
    assert result.returncode == 1
    assert result.stderr == (
        f"port {busy} is busy: set SANDBOX_PORT=… (make run SANDBOX_PORT={busy + 1})\n"
    )
    assert ports_free(f"PORT={free}").returncode == 0


def test_make_run_stops_at_a_busy_port_with_one_line_before_starting_anything():
    with listening_port() as taken:
        busy = taken.getsockname()[1]
        result = subprocess.run(
            # -o: the virtualenv is taken as installed; this checks the ports, not pip.
            ["make", "--no-print-directory", "-o", ".venv/.cipdash-installed-demo", "run"],
            env={**os.environ, "PORT": str(busy)},
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    assert result.returncode != 0
    assert f"port {busy} is busy: set PORT=… (make run PORT={busy + 1})" in result.stderr
    assert "Traceback" not in result.stderr
    assert "migrate" not in result.stdout


def make_recipe(target: str) -> str:
    """What make would run for target were pyproject.toml just changed (printed, not run)."""
    return subprocess.run(
        ["make", "--no-print-directory", "-n", "-W", "pyproject.toml", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_make_run_installs_the_demo_only_and_make_test_the_tools_too():
    assert "pip install --quiet -e '.[demo]'" in make_recipe(".venv/.cipdash-installed-demo")
    assert "pip install --quiet -e '.[dev,demo]'" in make_recipe(".venv/.cipdash-installed-dev")


def test_make_run_uses_the_ports_it_is_given():
    recipe = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", "PORT=8001", "SANDBOX_PORT=8766"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "scripts/ports-free PORT=8001 SANDBOX_PORT=8766" in recipe
    assert "honcho start --procfile Procfile --port 8001" in recipe


def test_demo_setup_points_at_the_ports_of_the_environment(tmp_path):
    # A data directory of its own: the demo's database, not the test run's.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "CIPDASH_TEST_SQLITE_NAME")
    }
    env.update(CIPDASH_DATA_DIR=str(tmp_path), PORT="8001", SANDBOX_PORT="8766")
    for command in (["migrate", "--noinput"], ["demo_setup"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert "Open   http://127.0.0.1:8001/" in done.stdout
    assert "sandbox feed http://127.0.0.1:8766/api/2022-08-01" in done.stdout
