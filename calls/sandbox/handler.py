"""HTTP request handler of the sandbox feed: the fake API plus its `/_sandbox/` controls."""

from __future__ import annotations

import json
import logging
import select
import socket
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from calls.sandbox import api
from calls.sandbox.faults import FaultRule
from calls.sandbox.responses import (
    CannedResponse,
    fault_response,
    invalid_input,
    json_response,
    not_authorized,
    to_json,
)

if TYPE_CHECKING:
    from calls.sandbox.server import SandboxFeed, SandboxHTTPServer

logger = logging.getLogger("calls.sandbox")

# Faults about the connection itself: applied before authentication, like a broken network.
_CONNECTION_FAULTS = frozenset({"hang", "drip", "close"})


class SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API behind its load balancer
    server_version = "InvocaSandbox/1.0"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection releases its thread after this
    server: SandboxHTTPServer

    # ----- plumbing --------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and delayed
        # ACKs add about 40 ms to every keep-alive request, which would skew benchmarks.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track_connection(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack_connection(self.connection)

    @property
    def feed(self) -> SandboxFeed:
        return self.server.feed

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Path only: the query may hold phone numbers.
        if self.feed.verbose:
            logger.info("%s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        if self.feed.verbose:
            logger.info(format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, response: CannedResponse) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    # ----- routing ---------------------------------------------------------------------------

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        try:
            if url.path.startswith("/_sandbox/"):
                self._send(self._control(url.path, url.query, body))
                return
            match = api.CALLS_PATH.match(url.path)
            if match is None:
                self._send(json_response(404, {"error": "NotFound"}))
                return
            self._calls_endpoint(match["version"], api.parse_query(url.query))
        except OSError:  # the client went away (the point of several fault modes)
            self.close_connection = True

    def _calls_endpoint(self, version: str, params: dict[str, str]) -> None:
        token = self.headers.get("Authorization")
        account = self.feed.account_for_token(token)
        # Count and match faults by the organization the request is about, even if refused.
        invoca_id = account.invoca_id if account else self.feed.known_invoca_id(params.get("id"))
        self.feed.record_request(invoca_id)
        if self.command != "GET":
            self._send(json_response(405, {"error": "MethodNotAllowed"}, Allow="GET"))
            return
        if not api.is_valid_version(version):
            self._send(invalid_input(400, f"unknown API version {version}", "InvalidVersion"))
            return
        fault = self.feed.take_fault(invoca_id)
        if fault is not None and fault.mode in _CONNECTION_FAULTS:
            self._connection_fault(fault, invoca_id)
            return
        if fault is not None and fault.mode == "slow" and not self._wait(fault.options["delay"]):
            self.close_connection = True  # the server is stopping
            return

        if account is None:
            self._send(not_authorized())
            return
        try:
            call_filter = api.check_parameters(params, account.invoca_id, account.organization_type)
        except api.InvalidInput as error:
            self._send(invalid_input(403, str(error)))
            return
        if fault is None or fault.mode == "slow":
            self._send(self.feed.current_calls_answer(account.invoca_id, call_filter))
        else:
            calls = self.feed.current_calls(account.invoca_id)
            calls = [call for call in calls if call_filter.matches(call)]
            self._send(fault_response(fault, calls, self.feed.now()))

    # ----- faults that are about the connection rather than the answer ------------------------

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True when the full time passed."""
        return not self.feed.stopping.wait(seconds)

    def _connection_fault(self, fault: FaultRule, invoca_id: str | None) -> None:
        self.close_connection = True
        if fault.mode == "close":
            # Drop the connection without a single byte of answer.
            self.connection.shutdown(socket.SHUT_RDWR)
        elif fault.mode == "hang":
            while not self.feed.stopping.wait(0.2) and not self._client_gone():
                pass
        elif fault.mode == "drip":
            calls = self.feed.current_calls(invoca_id) if invoca_id else []
            self._drip(fault.options["interval"], to_json({"current_calls": calls}))

    def _drip(self, interval: float, body: bytes) -> None:
        # No Content-Length and "Connection: close": the body only ends when the socket does,
        # which never happens, so a client without a total deadline waits forever.
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Connection", "close")
        self.end_headers()
        position = 0
        while True:
            chunk = body[position : position + 1] or b" "
            position += 1
            self.wfile.write(chunk)
            if self.feed.stopping.wait(interval):
                return

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
            return peeked == b""
        except OSError:
            return True

    # ----- /_sandbox/ control endpoints --------------------------------------------------------

    def _control(self, path: str, query: str, body: bytes) -> CannedResponse:
        if path == "/_sandbox/stats":
            if self.command != "GET":
                return json_response(405, {"error": "MethodNotAllowed"}, Allow="GET")
            return json_response(200, self.feed.stats())
        if path == "/_sandbox/fault":
            if self.command == "POST":
                return self._post_fault(body)
            if self.command == "DELETE":
                invoca_id = api.parse_query(query).get("invoca_id")
                self.feed.clear_faults(invoca_id)
                return json_response(200, {"faults": self.feed.active_faults()})
            return json_response(405, {"error": "MethodNotAllowed"}, Allow="POST, DELETE")
        return json_response(404, {"error": "NotFound"})

    def _post_fault(self, body: bytes) -> CannedResponse:
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict) or "mode" not in request:
                raise ValueError('send a JSON object with at least "mode"')
            options = {k: v for k, v in request.items() if k not in ("mode", "invoca_id", "count")}
            rule = self.feed.set_fault(
                request["mode"], request.get("invoca_id"), request.get("count"), **options
            )
        except (ValueError, KeyError) as error:
            message = error.args[0] if error.args else str(error)
            return json_response(400, {"error": "InvalidFault", "message": str(message)})
        return json_response(200, {"fault": rule})
