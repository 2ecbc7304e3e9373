"""The built wheel is the whole product: installed into a fresh virtualenv and run away from the
checkout, it migrates, collects its static files and serves its pages and hashed static files
from gunicorn with DEBUG off, as a container image or a deploy without the checkout does."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.packaging, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parent.parent
# What a build reads; the rest of the checkout (the virtualenv, node_modules, earlier builds)
# stays out of the copy the wheel is built from.
NOT_SOURCES = shutil.ignore_patterns(
    ".*", "build", "dist", "*.egg-info", "node_modules", "var", "test-artifacts", "__pycache__"
)
# Only what pip and the processes need: none of the test run's own settings (its data
# directory, database, broker) reaches the installed copy.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
YEAR_SECONDS = 365 * 24 * 3600


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", work, source],
        check=True,
    )
    (built,) = work.glob("cipdash-*.whl")
    return built


def installed_environment(data_dir: Path) -> dict[str, str]:
    environment = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    environment.update(
        {name: value for name, value in os.environ.items() if name.lower().startswith("pip_")}
    )
    environment.update(
        DJANGO_SETTINGS_MODULE="cipdash.settings",
        CIPDASH_DATA_DIR=str(data_dir),
        # Plain HTTP on loopback; everything else as a DEBUG-off production install has it.
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return environment


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A fresh virtualenv with the wheel installed, and an empty directory to run it from."""
    work = tmp_path_factory.mktemp("installed")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    bin_dir = venv / "bin"
    environment = installed_environment(work / "data")
    subprocess.run(
        [bin_dir / "python", "-m", "pip", "install", "--quiet", wheel],
        env=environment,
        check=True,
    )
    run_dir = work / "run"
    run_dir.mkdir()
    yield {"bin": bin_dir, "run": run_dir, "data": work / "data"}


def run_installed(installed: dict[str, Path], *command: str, unset: tuple[str, ...] = ()) -> str:
    environment = installed_environment(installed["data"])
    for name in unset:
        del environment[name]
    return subprocess.run(
        [installed["bin"] / command[0], *command[1:]],
        cwd=installed["run"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def wait_until_listening(process: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"gunicorn exited with {process.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"gunicorn did not listen on {port} within {timeout:g} s")


@pytest.fixture(scope="module")
def served(installed: dict[str, Path]) -> Iterator[str]:
    """gunicorn serving the installed copy, DEBUG off, after the production steps."""
    run_installed(installed, "django-admin", "migrate", "--noinput")
    run_installed(installed, "django-admin", "collectstatic", "--noinput")
    port = free_port()
    gunicorn = subprocess.Popen(
        [installed["bin"] / "gunicorn", "cipdash.wsgi", "--bind", f"127.0.0.1:{port}"],
        cwd=installed["run"],
        env=installed_environment(installed["data"]),
        start_new_session=True,  # the finally ends the process group: the worker too
    )
    try:
        wait_until_listening(gunicorn, port, timeout=120)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        try:
            gunicorn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(gunicorn.pid, signal.SIGKILL)
            gunicorn.wait()


def test_the_wheel_carries_the_templates_and_static_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for source in [*(ROOT / "templates").rglob("*.html"), *(ROOT / "static").rglob("*.*")]:
        assert f"cipdash/site/{source.relative_to(ROOT)}" in names
    assert "calls/static/calls/admin.css" in names
    # The demo's process runner is not part of a production install.
    metadata = zipfile.ZipFile(wheel).read(
        next(name for name in names if name.endswith(".dist-info/METADATA"))
    )
    requirements = re.findall(rb"^Requires-Dist: (.*)$", metadata, flags=re.MULTILINE)
    honcho = [line for line in requirements if line.startswith(b"honcho")]
    assert honcho and all(b'extra == "demo"' in line for line in honcho)
    assert any(line.startswith(b"whitenoise") and b"extra" not in line for line in requirements)


def test_the_installed_copy_runs_from_outside_the_checkout(installed: dict[str, Path]) -> None:
    location = run_installed(
        installed, "python", "-c", "import cipdash, calls; print(cipdash.__file__, calls.__file__)"
    )
    assert str(ROOT) not in location
    assert str(installed["bin"].parent) in location
    # The Celery app `celery -A cipdash worker|beat` loads: its tasks and beat's schedule.
    celery_app = run_installed(
        installed,
        "python",
        "-c",
        "from cipdash.celery import app, POLL_TICK_TASK; app.loader.import_default_modules(); "
        "app.finalize(); print(POLL_TICK_TASK in app.tasks, 'poll-tick' in app.conf.beat_schedule)",
    )
    assert celery_app.split() == ["True", "True"]
    # With no data directory named, an installed copy keeps its data where it is started.
    data_dir = run_installed(
        installed,
        "python",
        "-c",
        "from django.conf import settings; print(settings.DATA_DIR)",
        unset=("CIPDASH_DATA_DIR",),
    )
    assert data_dir.strip() == str(installed["run"] / "var")


def test_gunicorn_serves_the_login_page_with_hashed_static_files(served: str) -> None:
    with urllib.request.urlopen(f"{served}/login/", timeout=30) as response:
        assert response.status == 200
        page = response.read().decode()
    assert 'name="password"' in page
    script = re.search(r'src="(/static/calls/app\.[0-9a-f]{12}\.js)"', page)
    assert script, "the page names app.js by its content hash"

    request = urllib.request.Request(served + script.group(1), headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        cache_control = response.headers["Cache-Control"]
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.read()
    max_age = re.search(r"max-age=(\d+)", cache_control)
    assert max_age and int(max_age.group(1)) >= YEAR_SECONDS, cache_control
