"""A hard bound on one exchange with Invoca, from connecting to the last byte.

Socket timeouts bound each wait for bytes, not the whole: a server that sends one byte now
and then (in the headers or the body) never trips them. Here every connection the fetch
opens registers its socket, and a timer shuts those sockets down when the deadline passes,
which wakes any read blocked on them. The fetch then reports the deadline, not whatever the
cut connection looked like.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current: ContextVar[Deadline | None] = ContextVar("invoca_deadline", default=None)


class Deadline:
    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._expired = False
        self._finished = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

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

    def _expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self._expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def start(self) -> None:
        self._timer.start()

    def finish(self) -> bool:
        """Stop the timer; True when the deadline had already passed."""
        self._timer.cancel()
        with self._lock:
            self._finished = True
            return self._expired


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


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watch(self.sock)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watch(self.sock)


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watched_when_reused(super()._get_conn(timeout))


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watched_when_reused(super()._get_conn(timeout))


def _watched_when_reused(connection: Any) -> Any:
    """A kept-alive connection connected before this deadline began: hand it over too. (A new
    one has no socket yet; its connect() hands it over.)"""
    _watch(getattr(connection, "sock", None))
    return connection


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
