"""One kept-alive HTTP session per thread for the polls, so that a worker thread polling
every few seconds reuses its connection (over HTTPS: no TCP and TLS handshake per poll)
instead of opening one per request.

The environment's proxy and CA bundle settings are read once per origin rather than on every
request (requests scans the whole environment each time), and ~/.netrc is never consulted:
a netrc entry for the host would replace the token's Authorization header.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from calls.invoca.deadline import watched_session

# A connection idle for longer is dropped rather than reused. Well below the idle timeouts
# of load balancers (60 s is usual), so that a reused connection is hardly ever one the
# server is closing at that very moment (which would fail that one poll).
KEEPALIVE_IDLE_SECONDS = 20.0


class _ThreadSession:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.session = watched_session()
        self.session.trust_env = False
        self.last_used: dict[str, float] = {}  # by origin
        self.environment: dict[str, dict[str, Any]] = {}  # by origin


_local = threading.local()


def session_for(url: str) -> tuple[requests.Session, dict[str, Any]]:
    """This thread's session, and the keyword arguments that give a request to `url` the
    proxies, CA bundle and client certificate the environment names for its origin
    (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE...).

    Connections idle for too long are dropped first. A forked child never shares its
    parent's sockets: it starts a session of its own."""
    state: _ThreadSession | None = getattr(_local, "state", None)
    if state is None or state.pid != os.getpid():
        state = _local.state = _ThreadSession()
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    now = time.monotonic()
    if now - state.last_used.get(origin, now) > KEEPALIVE_IDLE_SECONDS:
        state.session.close()  # drops every pooled connection; the session stays usable
        state.last_used.clear()
    state.last_used[origin] = now
    if origin not in state.environment:
        with requests.Session() as reader:  # trust_env on: the environment's word
            merged = reader.merge_environment_settings(origin, {}, None, None, None)
        state.environment[origin] = {key: merged[key] for key in ("proxies", "verify", "cert")}
    return state.session, state.environment[origin]
