"""SandboxFeed: a fake Invoca Calls In Progress API served over real HTTP on a background thread.

with SandboxFeed(seed=1) as feed:
    feed.add_organization("1001", "token-1001")
    requests.get(f"{feed.url}/calls_in_progress/current_calls.json",
                 params={"organization_type": "Network", "id": "1001"},
                 headers={"Authorization": "token-1001"})
"""

from __future__ import annotations

import contextlib
import copy
import socket
import socketserver
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from http.server import ThreadingHTTPServer
from typing import Any

from calls.sandbox.api import ORGANIZATION_TYPES, CallFilter
from calls.sandbox.clock import Clock
from calls.sandbox.faults import FaultBoard, FaultRule, make_rule
from calls.sandbox.handler import SandboxRequestHandler
from calls.sandbox.population import Population
from calls.sandbox.responses import CannedResponse, current_calls, current_calls_encoded

DEFAULT_API_VERSION = "2022-08-01"


@dataclass(frozen=True)
class OrganizationAccount:
    invoca_id: str
    token: str
    organization_type: str
    slim: bool


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hanging handler must never keep the process alive
    block_on_close = False
    # socketserver's default backlog of 5 drops bursts of connections (each retried after 1 s).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], feed: SandboxFeed) -> None:
        self.feed = feed
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._connections_opened = 0
        super().__init__(address, SandboxRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def track_connection(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)
            self._connections_opened += 1

    def connections_opened(self) -> int:
        with self._connections_lock:
            return self._connections_opened

    def untrack_connection(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_all_connections(self) -> None:
        """Unblock handlers waiting on idle keep-alive sockets so their threads end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up mid-answer are the point of several fault modes: not an error.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class SandboxFeed:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        clock: Clock | None = None,
        min_duration: float = 20.0,
        max_duration: float = 240.0,
        target_live: int = 8,
        api_version: str = DEFAULT_API_VERSION,
        verbose: bool = False,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.api_version = api_version
        self.verbose = verbose
        self.population = Population(
            seed,
            clock,
            min_duration=min_duration,
            max_duration=max_duration,
            target_live=target_live,
        )
        self.stopping = threading.Event()
        self._accounts: dict[str, OrganizationAccount] = {}  # by token
        self._static: dict[str, dict[str, Any]] = {}
        self._faults = FaultBoard()
        self._counts: Counter[str] = Counter()
        self._total_requests = 0
        self._lock = threading.Lock()
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SandboxFeed:
        if self._server is not None:
            raise RuntimeError("already started")
        self.stopping.clear()
        self._server = SandboxHTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-feed-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; slow, hanging and dripping handlers give up at once."""
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.close_all_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxFeed:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the feed is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL including the version, the value an organization is configured with."""
        return f"{self.root_url}/api/{self.api_version}"

    # ----- organizations and calls ---------------------------------------------------------------

    def add_organization(
        self,
        invoca_id: str,
        token: str,
        organization_type: str = "Network",
        slim: bool = False,
        target_live: int | None = None,
    ) -> None:
        if organization_type not in ORGANIZATION_TYPES:
            raise ValueError("organization_type must be Network or Advertiser")
        if not token or token.startswith("Bearer "):
            raise ValueError("a token is a non-empty raw string")
        account = OrganizationAccount(str(invoca_id), token, organization_type, slim)
        with self._lock:
            if token in self._accounts:
                raise ValueError("token already in use")
            self.population.add_organization(account.invoca_id, slim=slim, target_live=target_live)
            self._accounts[token] = account

    def serve_static(self, invoca_id: str, payload: dict[str, Any] | None) -> None:
        """Answer this organization with a fixed {"current_calls": [...]} (e.g. a bulk payload)
        instead of its live population; None goes back to the population."""
        with self._lock:
            if payload is None:
                self._static.pop(str(invoca_id), None)
            else:
                self._static[str(invoca_id)] = payload

    def current_calls(self, invoca_id: str) -> list[Any]:
        with self._lock:
            static = self._static.get(invoca_id)
        if static is not None:
            return list(static.get("current_calls") or [])
        return self.population.live_calls(invoca_id)

    def current_calls_answer(self, invoca_id: str, call_filter: CallFilter) -> CannedResponse:
        """The 200 answer with the calls the filter lets through (this is the feed's cost per
        request: a live call is encoded again only once it has changed)."""
        with self._lock:
            static = self._static.get(invoca_id)
        if static is not None:
            # The caller may change a static payload in place at any time: encoded afresh.
            calls = static.get("current_calls") or []
            return current_calls([c for c in calls if call_filter.matches(c)])
        keep = call_filter.matches if call_filter.narrows else None
        return current_calls_encoded(self.population.live_calls_json(invoca_id, keep))

    def now(self) -> datetime:
        return self.population.now()

    # Test hooks, delegated to the population.
    def add_call(
        self, invoca_id: str, payload: dict[str, Any], *, duration: float | None = None
    ) -> str:
        return self.population.add_call(invoca_id, payload, duration=duration)

    def update_call(self, invoca_id: str, transaction_id: str, **fields: Any) -> None:
        self.population.update_call(invoca_id, transaction_id, **fields)

    def set_custom(
        self, invoca_id: str, transaction_id: str, name: str, value: Any, source: str = "Api"
    ) -> None:
        self.population.set_custom(invoca_id, transaction_id, name, value, source)

    def end_call(self, invoca_id: str, transaction_id: str) -> bool:
        return self.population.end_call(invoca_id, transaction_id)

    def live_calls(self, invoca_id: str) -> list[dict[str, Any]]:
        return self.population.live_calls(invoca_id)

    def advance(self, seconds: float) -> datetime:
        return self.population.advance(seconds)

    # ----- accounts, as the handler sees them ---------------------------------------------------

    def account_for_token(self, authorization: str | None) -> OrganizationAccount | None:
        """The raw token only: "Bearer <token>" is refused as the real API is documented to."""
        if not authorization:
            return None
        with self._lock:
            return self._accounts.get(authorization.strip())

    def known_invoca_id(self, invoca_id: str | None) -> str | None:
        if invoca_id is None:
            return None
        with self._lock:
            known = any(a.invoca_id == invoca_id.strip() for a in self._accounts.values())
        return invoca_id.strip() if known else None

    # ----- request counting -----------------------------------------------------------------

    def record_request(self, invoca_id: str | None) -> None:
        with self._lock:
            self._total_requests += 1
            if invoca_id is not None:
                self._counts[invoca_id] += 1

    def request_count(self, invoca_id: str | None = None) -> int:
        """Requests to the calls endpoint: for one organization, or all of them."""
        with self._lock:
            return self._total_requests if invoca_id is None else self._counts[str(invoca_id)]

    def connection_count(self) -> int:
        """Connections clients have opened to the feed (keep-alive ones carry many requests)."""
        return 0 if self._server is None else self._server.connections_opened()

    def reset_request_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._total_requests = 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            accounts = list(self._accounts.values())
            counts = dict(self._counts)
            total = self._total_requests
            static = set(self._static)
        organizations = [
            {
                "invoca_id": a.invoca_id,
                "organization_type": a.organization_type,
                "slim": a.slim,
                "live_calls": self.population.live_count(a.invoca_id),
                "static": a.invoca_id in static,
            }
            for a in accounts
        ]
        return {
            "total_requests": total,
            "requests_by_organization": counts,
            "organizations": organizations,
            "faults": self.active_faults(),
        }

    # ----- faults ---------------------------------------------------------------------------

    def set_fault(
        self,
        mode: str | int,
        invoca_id: str | None = None,
        count: int | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Make the calls endpoint misbehave, for one organization or all, for the next
        `count` requests or until cleared. Returns the fault as stored (defaults filled)."""
        rule = make_rule(mode, invoca_id, count, **options)
        if rule.invoca_id is not None and self.known_invoca_id(rule.invoca_id) is None:
            raise ValueError(f"unknown organization {rule.invoca_id}")
        self._faults.set(rule)
        return copy.deepcopy(rule.as_dict())

    def clear_faults(self, invoca_id: str | None = None) -> None:
        """Clear one organization's fault, or every fault when no id is given."""
        self._faults.clear(invoca_id, everything=invoca_id is None)

    def active_faults(self) -> list[dict[str, Any]]:
        return self._faults.active()

    def take_fault(self, invoca_id: str | None) -> FaultRule | None:
        return self._faults.take(invoca_id)
