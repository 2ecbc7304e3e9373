"""One error hierarchy for talking to Invoca (calls.invoca.errors): which errors may succeed on
a later try, the outcome each is recorded as, and what it carries."""

from __future__ import annotations

import pytest

from calls.invoca import (
    AuthenticationFailed,
    BadResponse,
    InvalidRequest,
    InvocaError,
    OriginRefused,
    RateLimited,
    RequestRejected,
    Unavailable,
)


@pytest.mark.parametrize(
    ("error", "retryable", "outcome"),
    [
        (Unavailable, True, "unavailable"),
        (RateLimited, True, "rate_limited"),
        (BadResponse, True, "bad_response"),
        (AuthenticationFailed, False, "auth_failed"),
        (RequestRejected, False, "rejected"),
        (InvalidRequest, False, "rejected"),
        (OriginRefused, False, "rejected"),
    ],
)
def test_each_error_says_whether_to_retry_and_its_outcome(
    error: type[InvocaError], retryable: bool, outcome: str
) -> None:
    raised = error("what went wrong")
    assert isinstance(raised, InvocaError)
    assert (raised.retryable, raised.outcome) == (retryable, outcome)


def test_an_error_reads_as_its_message_and_carries_the_status_and_wait() -> None:
    error = Unavailable("could not connect", http_status=503, retry_after=7.0)
    assert str(error) == "could not connect"
    assert (error.message, error.http_status, error.retry_after) == ("could not connect", 503, 7.0)


def test_a_rate_limit_is_a_429_unless_told_otherwise() -> None:
    assert RateLimited("slow down").http_status == 429
    assert RateLimited("slow down", retry_after=2.0).retry_after == 2.0
    assert BadResponse("not JSON").http_status is None
