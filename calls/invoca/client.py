"""HTTP for the Calls In Progress API: one GET, bounded in time and size, typed failures."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import urllib3

from calls.invoca.deadline import deadline_running
from calls.invoca.decoding import current_calls_read
from calls.invoca.errors import (
    AuthenticationFailed,
    BadResponse,
    InvalidRequest,
    InvocaError,
    OriginRefused,
    RateLimited,
    RequestRejected,
    Unavailable,
)
from calls.invoca.jsontext import KnownCall
from calls.invoca.origins import INVOCA_HOSTS, base_url_check, destinations_limited, url_host
from calls.invoca.parsing import CurrentCallsResult
from calls.invoca.sessions import session_for

ENDPOINT = "calls_in_progress/current_calls.json"
ORGANIZATION_TYPES = ("Network", "Advertiser")
USER_AGENT = "cipdash/0.1 (+calls-in-progress monitor)"
_CHUNK = 256 * 1024
# Every request's headers but the token: requests' defaults (compressed answers welcome,
# keep-alive) and ours.
_HEADERS = {
    **requests.utils.default_headers(),
    "Accept": "application/json",
    "User-Agent": USER_AGENT,
}

log = logging.getLogger("calls.invoca")


@dataclass(frozen=True, slots=True)
class CallFilters:
    """Optional filters. Any filter makes the answer partial by definition: it says nothing
    about the calls it leaves out, so a filtered answer never ends calls."""

    transaction_id: str = ""
    external_unique_id: str = ""
    call_record_id: str = ""
    calling_phone_number: str = ""
    destination_phone_number: str = ""

    def __post_init__(self) -> None:
        if bool(self.calling_phone_number.strip()) != bool(self.destination_phone_number.strip()):
            raise InvalidRequest(
                "calling_phone_number and destination_phone_number must be given together"
            )

    @property
    def any(self) -> bool:
        return any(self.params().values())

    def params(self) -> dict[str, str]:
        return {
            name: value.strip()
            for name, value in (
                ("transaction_id", self.transaction_id),
                ("external_unique_id", self.external_unique_id),
                ("call_record_id", self.call_record_id),
                ("calling_phone_number", self.calling_phone_number),
                ("destination_phone_number", self.destination_phone_number),
            )
            if value.strip()
        }


@dataclass(frozen=True, slots=True)
class CurrentCallsRequest:
    base_url: str
    organization_type: str
    organization_id: str
    token: str
    # The origin (scheme://host:port) the token was entered for: it goes nowhere else.
    token_origin: str
    filters: CallFilters = CallFilters()
    # INVOCA_ALLOWED_HOSTS: the hosts any request, and any connection, may reach.
    allowed_hosts: tuple[str, ...] = INVOCA_HOSTS
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    # The whole exchange, so a server that drips bytes cannot hold a worker forever.
    total_timeout: float = 20.0
    max_response_bytes: int = 64 * 1024 * 1024

    def __repr__(self) -> str:  # the token must never reach a log line or a traceback
        return (
            f"CurrentCallsRequest(base_url={self.base_url!r}, "
            f"organization_type={self.organization_type!r}, "
            f"organization_id={self.organization_id!r}, token='…', "
            f"token_origin={self.token_origin!r}, filters={self.filters!r})"
        )

    def validate(self) -> None:
        if self.organization_type not in ORGANIZATION_TYPES:
            raise InvalidRequest("organization_type must be exactly Network or Advertiser")
        if not self.organization_id.isdigit():
            raise InvalidRequest("the Invoca organization id must be numeric")
        if not self.base_url.startswith(("https://", "http://")):
            raise InvalidRequest("the API base URL must start with https:// or http://")
        destination = base_url_check(self.base_url, allowed_hosts=self.allowed_hosts)
        if destination.origin != self.token_origin:
            raise OriginRefused(
                f"the API token was entered for {self.token_origin or 'another address'}, "
                f"not {destination.origin}: enter it again for the new address"
            )
        if not self.token:
            raise InvalidRequest("the organization has no active API token")
        if self.token != self.token.strip() or not self.token.isprintable():
            # requests would refuse the header anyway; say why without quoting the token.
            raise InvalidRequest("the API token has blanks at its ends or control characters")

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{ENDPOINT}"

    def params(self) -> dict[str, str]:
        return {
            "organization_type": self.organization_type,
            "id": self.organization_id,
            **self.filters.params(),
        }


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from now: delay-seconds or an HTTP-date; None if unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "inf" and "nan" parse as floats but are no delay
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives. read1 returns as soon as any bytes come in, so the caller's
    total deadline is checked even against a server that drips one byte at a time
    (iter_content would wait for a whole chunk, for ever)."""
    while True:
        try:
            chunk = response.raw.read1(_CHUNK, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError:
            raise requests.Timeout("read timed out") from None
        except urllib3.exceptions.HTTPError as exc:
            raise requests.ConnectionError(type(exc).__name__) from None
        if not chunk:
            return
        yield chunk


def _read_body(response: requests.Response, request: CurrentCallsRequest, started: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > request.max_response_bytes:
        raise BadResponse(
            f"response of {declared} bytes exceeds the {request.max_response_bytes}-byte limit",
            http_status=response.status_code,
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in _chunks(response):
        size += len(chunk)
        if size > request.max_response_bytes:
            raise BadResponse(
                f"response exceeds the {request.max_response_bytes}-byte limit",
                http_status=response.status_code,
            )
        if time.monotonic() - started > request.total_timeout:
            raise Unavailable(
                f"response not complete after {request.total_timeout:g} s",
                http_status=response.status_code,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _raise_for_status(response: requests.Response) -> None:
    status = response.status_code
    if status in (200, 202):
        return
    if status in (401, 403):
        reason = "token refused (401)" if status == 401 else "access refused (403)"
        raise AuthenticationFailed(reason, http_status=status)
    # A 429, or a 503 for maintenance, may say when to come back.
    retry_after = retry_after_seconds(response.headers.get("Retry-After"), datetime.now(UTC))
    if status == 429:
        raise RateLimited("rate limited (429)", retry_after=retry_after)
    if status >= 500:
        raise Unavailable(f"Invoca answered {status}", http_status=status, retry_after=retry_after)
    raise RequestRejected(f"Invoca answered {status}", http_status=status)


def _is_record_not_found(body: bytes) -> bool:
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return isinstance(decoded, dict) and decoded.get("error") == "RecordNotFound"


def current_calls_fetch(
    request: CurrentCallsRequest,
    *,
    known: Mapping[str, KnownCall] | None = None,
) -> CurrentCallsResult:
    """One GET of current_calls.json. Returns the parsed answer or raises an InvocaError.
    `known` are the live calls' stored texts, recognised without decoding them again.

    Bounded in time: connect and read timeouts for each wait, and total_timeout for the
    whole exchange however the server paces its bytes."""
    request.validate()
    http, environment = session_for(request.url)
    filtered = request.filters.any
    read_timeout = min(request.read_timeout, request.total_timeout)
    with (
        deadline_running(request.total_timeout) as deadline,
        destinations_limited(request.allowed_hosts),
    ):
        try:
            answer = _exchange(http, request, read_timeout, environment)
        except (InvocaError, requests.RequestException) as exc:
            # Whatever state the connection is in, the next request starts on a new one.
            http.close()
            if deadline.expired:  # the cut connection, not the server, raised this
                raise _too_slow(request) from None
            if isinstance(exc, InvocaError):
                raise
            raise _network_failure(exc, request) from None
        if deadline.expired:  # a cut body can look complete: never parse it
            http.close()
            raise _too_slow(request)
    if isinstance(answer, CurrentCallsResult):
        return answer
    status, content_type, body = answer
    if "html" in content_type.lower():
        raise BadResponse(f"expected JSON, got {content_type.split(';')[0]}", http_status=status)
    return current_calls_read(body, http_status=status, filtered=filtered, known=known)


def _exchange(
    http: requests.Session,
    request: CurrentCallsRequest,
    read_timeout: float,
    environment: Mapping[str, Any],
) -> CurrentCallsResult | tuple[int, str, bytes]:
    """The request and the raw answer: (status, content type, body)."""
    started = time.monotonic()
    # Prepared on its own rather than by the session, whose merging of its cookies, auth and
    # headers into each request is a sixth of the exchange's CPU and adds nothing here: the
    # session has no auth or headers of its own, and no cookie of an answer goes back.
    prepared = requests.Request(
        "GET",
        request.url,
        params=request.params(),
        headers={**_HEADERS, "Authorization": request.token},
    ).prepare()
    with http.send(
        prepared,
        timeout=(request.connect_timeout, read_timeout),
        stream=True,
        allow_redirects=False,
        **environment,
    ) as response:
        filtered = request.filters.any
        # An early draft answered a lookup with no match this way.
        if (
            filtered
            and response.status_code == 404
            and _is_record_not_found(_read_body(response, request, started))
        ):
            return CurrentCallsResult(calls=(), http_status=404, filtered=True)
        _raise_for_status(response)
        body = _read_body(response, request, started)
        return response.status_code, response.headers.get("Content-Type", ""), body


def _too_slow(request: CurrentCallsRequest) -> Unavailable:
    return Unavailable(f"response not complete after {request.total_timeout:g} s")


def _network_failure(exc: requests.RequestException, request: CurrentCallsRequest) -> Unavailable:
    """One message for every way of not getting an answer (refused, unreachable, timed out,
    reset, TLS failed): what an administrator reads must not tell an open port from a closed
    one. The kind of failure goes to the log only."""
    host = url_host(request.base_url)
    reason = _failure_reason(exc)
    log.warning("request to %s failed: %s (%s)", host, reason, type(exc).__name__)
    if reason == "name not resolved":
        return Unavailable(f"could not resolve the host name of {host}")
    return Unavailable(f"could not connect to {host}")


def _failure_reason(exc: requests.RequestException) -> str:
    text = str(exc)
    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.Timeout):
        return "read timeout"
    if "Name or service not known" in text or "NameResolution" in text or "getaddrinfo" in text:
        return "name not resolved"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS failed"
    if "Connection refused" in text:
        return "connection refused"
    if "Connection reset" in text:
        return "connection reset"
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "closed without an answer"
    return "connection failed"
