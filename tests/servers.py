"""Throwaway servers for the test suite: redis-server and PostgreSQL on free loopback ports.

Each is started only when the run has not been given one (CIPDASH_TEST_REDIS_URL,
DATABASE_URL). When a binary is missing the run fails: a test never skips for lack of a
service.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


class ServiceUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceUnavailable(f"nothing listens on 127.0.0.1:{port} after {timeout:g} s")


@dataclass
class RedisServer:
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    directory: str = ""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceUnavailable("redis-server is not installed (make test installs it)")
        # Started again after kill(): the same port, so clients find it where it was.
        self.directory = self.directory or tempfile.mkdtemp(prefix="cipdash-redis-")
        self.port = self.port or free_port()
        self.process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown, every client's socket is
        reset. start() brings it back on the same port (empty: it keeps no data)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = ""


def _postgres_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise ServiceUnavailable(f"PostgreSQL's {name} is not installed (make test installs it)")
    return candidates[-1]


@dataclass
class PostgresServer:
    port: int = 0
    directory: str = ""
    _as_user: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_user, *command], check=True, capture_output=True, timeout=120)

    @property
    def _data(self) -> str:
        return str(Path(self.directory) / "data")

    def start(self) -> PostgresServer:
        self.directory = tempfile.mkdtemp(prefix="cipdash-pg-")
        if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
            shutil.chown(self.directory, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self.port = self.port or free_port()
        self._run(
            _postgres_bin("initdb"),
            *("-D", self._data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"),
        )
        self.server_start()
        return self

    def server_start(self) -> None:
        """Start the server on its data directory and port (again, after server_stop)."""
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            _postgres_bin("pg_ctl"),
            *("-D", self._data, "-o", options, "-l", f"{self.directory}/log", "-w", "start"),
        )
        wait_for_port(self.port)

    def server_stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m fast`, as an operator's restart does: every session is ended and
        nothing listens until server_start(); the data stays."""
        self._run(_postgres_bin("pg_ctl"), "-D", self._data, "-m", mode, "-w", "stop")

    def stop(self) -> None:
        if self.directory and Path(self.directory, "data", "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError):
                self._run(
                    _postgres_bin("pg_ctl"),
                    "-D",
                    f"{self.directory}/data",
                    "-m",
                    "immediate",
                    "stop",
                )
        shutil.rmtree(self.directory, ignore_errors=True)
