"""One error hierarchy for everything that can go wrong talking to Invoca.

`retryable` says whether the same request may succeed later (back off and try again) or needs
a person to change something first (token, organization settings).
"""

from __future__ import annotations


class InvocaError(Exception):
    retryable: bool = True
    outcome: str = "error"

    def __init__(
        self, message: str, *, http_status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        # Seconds the server asked us to wait (Retry-After), when it said.
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class InvalidRequest(InvocaError):
    """Refused before any request was made (e.g. a lone phone-number filter)."""

    retryable = False
    outcome = "rejected"


class OriginRefused(InvocaError):
    """Refused before any request: the URL names a host the installation does not allow, or
    an origin the token was not entered for. Nothing was sent."""

    retryable = False
    outcome = "rejected"


class AuthenticationFailed(InvocaError):
    """401/403: the token is missing, wrong, revoked or has no access to this organization."""

    retryable = False
    outcome = "auth_failed"


class RateLimited(InvocaError):
    outcome = "rate_limited"

    def __init__(
        self, message: str, *, http_status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, http_status=http_status, retry_after=retry_after)


class Unavailable(InvocaError):
    """5xx, timeouts, refused or dropped connections, DNS failures."""

    outcome = "unavailable"


class BadResponse(InvocaError):
    """An answer that is not the documented JSON shape."""

    outcome = "bad_response"


class RequestRejected(InvocaError):
    """400/404 and other 4xx: the request itself is wrong (version, base URL, parameters)."""

    retryable = False
    outcome = "rejected"
