"""A hard bound on one exchange with Invoca, from connecting to the last byte.

Socket timeouts bound each wait for bytes, not the whole: a server that sends one byte now
and then (in the headers or the body) never trips them. Here every connection the fetch
opens registers its socket, and a watcher thread shuts those sockets down when the deadline
passes, which wakes any read blocked on them. The fetch then reports the deadline, not whatever the
cut connection looked like.

Resolving the host name comes first, and no socket can cut it short (getaddrinfo blocks
until the resolver gives up, which can take tens of seconds): a new connection resolves its
host in a helper thread and stops waiting for it when the deadline passes. The addresses it
finds are checked against the allowed hosts before any is connected to (calls.invoca.origins).

Both need urllib3's internals, which no public hook reaches: a connection's `_new_conn` and
`_dns_host` (where it resolves and connects), a pool's `_get_conn` (where a kept-alive
connection is taken) and the pool classes of requests' pool manager. The bugs they fix: a
server dripping one byte now and then, or a resolver that never answers, held a poll (and
its organization's lock) for ever, and a second DNS answer could swap an internal address in
after the check. urllib3 is pinned to 2.x (pyproject.toml) and tests/test_upstream_shapes.py
fails when any of these changes shape.
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from calls.invoca.origins import addresses_vetted

_current: ContextVar[Deadline | None] = ContextVar("invoca_deadline", default=None)


class Deadline:
    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._expired = False
        self.finished = False
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    @property
    def expired(self) -> bool:
        with self._lock:
            return self._expired

    def attach(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            late = self._expired
        if late:
            _shut(sock)

    def expire(self) -> None:
        with self._lock:
            if self.finished:
                return
            self._expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def start(self) -> None:
        _watcher().add(self)

    def finish(self) -> bool:
        """Stop watching; True when the deadline had already passed."""
        with self._lock:
            self.finished = True
            return self._expired


class _Watcher:
    """One thread per process that expires the running deadlines as they pass: a timer
    thread started for each request would cost a poll more than the watch itself.

    Finished deadlines stay queued until they come first, and are then dropped unseen: all
    deadlines are about as long, so a new one is hardly ever the earliest, and the thread
    wakes about once per deadline's length however many requests there are."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._queue: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()  # ties never compare two Deadlines
        threading.Thread(target=self._run, name="invoca-deadlines", daemon=True).start()

    def add(self, deadline: Deadline) -> None:
        with self._condition:
            heapq.heappush(self._queue, (deadline.ends, next(self._order), deadline))
            if self._queue[0][2] is deadline:
                self._condition.notify()

    def _run(self) -> None:
        while True:
            self._next_due().expire()

    def _next_due(self) -> Deadline:
        with self._condition:
            while True:
                while self._queue and self._queue[0][2].finished:
                    heapq.heappop(self._queue)
                if not self._queue:
                    self._condition.wait()
                    continue
                wait = self._queue[0][0] - time.monotonic()
                if wait <= 0:
                    return heapq.heappop(self._queue)[2]
                self._condition.wait(wait)


_watcher_made = threading.Lock()
_current_watcher: _Watcher | None = None


def _watcher() -> _Watcher:
    global _current_watcher
    with _watcher_made:
        if _current_watcher is None:
            _current_watcher = _Watcher()
        return _current_watcher


def _watcher_forget() -> None:
    """In a forked child (a prefork worker): the parent's thread does not exist there, and
    its locks may have been held at the fork; the child starts its own when it needs one."""
    global _current_watcher, _watcher_made
    _current_watcher, _watcher_made = None, threading.Lock()


os.register_at_fork(after_in_child=_watcher_forget)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def deadline_running(seconds: float) -> Iterator[Deadline]:
    deadline = Deadline(seconds)
    token = _current.set(deadline)
    deadline.start()
    try:
        yield deadline
    finally:
        deadline.finish()
        _current.reset(token)


def _watch(sock: socket.socket | None) -> None:
    """Hand a new connection's socket to the deadline running in this context, if any."""
    watcher = _current.get()
    if watcher is not None:
        watcher.attach(sock)


def _resolve_in_time(host: str, port: int) -> list[str]:
    """The addresses of `host`, looked up for no longer than the running deadline leaves.
    The lookup runs in a daemon thread, left to finish on its own if it outlasts the wait."""
    if _is_address(host):
        return [host.strip("[]")]
    deadline = _current.get()
    if deadline is None:
        return _addresses(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
    outcome: list[object] = []

    def resolve() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
        except OSError as exc:
            outcome.append(exc)

    lookup = threading.Thread(target=resolve, name="invoca-resolve", daemon=True)
    lookup.start()
    lookup.join(deadline.remaining())
    if not outcome:
        raise socket.gaierror(socket.EAI_AGAIN, "the host name lookup got no answer in time")
    if isinstance(outcome[0], OSError):
        raise outcome[0]
    return _addresses(outcome[0])  # type: ignore[arg-type]


def _addresses(infos: list[tuple[Any, ...]]) -> list[str]:
    return [str(info[4][0]) for info in infos]


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class _ConnectsWithinTheDeadline:
    """For urllib3's connection classes: resolve within the deadline, connect only to
    addresses the allowed hosts permit (origins.addresses_vetted), then hand the socket to
    the deadline.

    The connection goes to the very addresses that were checked, so a second DNS answer
    cannot swap an internal address in between. TLS still checks the certificate against
    the host name, and the Host header still names it. Through a proxy, the proxy (chosen
    by the operator) connects to the destination, so there is no address of ours to check."""

    def _new_conn(self) -> socket.socket:
        connection: Any = self  # an HTTPConnection, once mixed in
        name = connection._dns_host
        try:
            addresses = _resolve_in_time(name, connection.port)
        except socket.gaierror as exc:  # reported as urllib3 reports a failed lookup
            raise NameResolutionError(connection.host, connection, exc) from exc
        if connection.proxy is not None:  # resolved in time; urllib3 connects as it would
            return super()._new_conn()  # type: ignore[misc, no-any-return]
        vetted = addresses_vetted(name, connection.port, addresses)
        failure: Exception | None = None
        for address in vetted:
            connection._dns_host = address
            try:
                return super()._new_conn()  # type: ignore[misc, no-any-return]
            except (ConnectTimeoutError, NewConnectionError) as exc:
                failure = exc
            finally:
                connection._dns_host = name
        raise failure or NewConnectionError(connection, "no address to connect to")

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _watch(self.sock)  # type: ignore[attr-defined]


class _WatchedHTTPConnection(_ConnectsWithinTheDeadline, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_ConnectsWithinTheDeadline, HTTPSConnection):
    pass


class _HandsReusedConnectionsOver:
    """For urllib3's pool classes: a kept-alive connection was connected before this
    deadline began, so hand its socket over when it is taken from the pool. (A new one has
    no socket yet; its connect() hands it over.)"""

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]
        _watch(getattr(connection, "sock", None))
        return connection


class _WatchedHTTPConnectionPool(_HandsReusedConnectionsOver, HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(_HandsReusedConnectionsOver, HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPConnectionPool,
            "https": _WatchedHTTPSConnectionPool,
        }


def watched_session() -> requests.Session:
    """A session whose connections a running deadline can cut."""
    session = requests.Session()
    adapter = _WatchedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
