"""The only door to Invoca's Calls In Progress API.

`current_calls_fetch` makes one GET with the token in the Authorization header and returns a
`CurrentCallsResult` of typed, immutable `CurrentCall` objects, or raises one `InvocaError`
subclass. Nothing here logs or stores the token or the URL's query (which never holds it).
"""

from calls.invoca.client import (
    CallFilters,
    CurrentCallsRequest,
    current_calls_fetch,
)
from calls.invoca.decoding import current_calls_read
from calls.invoca.errors import (
    AuthenticationFailed,
    BadResponse,
    InvalidRequest,
    InvocaError,
    RateLimited,
    RequestRejected,
    Unavailable,
)
from calls.invoca.jsontext import KnownCall
from calls.invoca.parsing import (
    CurrentCall,
    CurrentCallsResult,
    CustomField,
    current_calls_parse,
)

__all__ = [
    "AuthenticationFailed",
    "BadResponse",
    "CallFilters",
    "CurrentCall",
    "CurrentCallsRequest",
    "CurrentCallsResult",
    "CustomField",
    "InvalidRequest",
    "InvocaError",
    "KnownCall",
    "RateLimited",
    "RequestRejected",
    "Unavailable",
    "current_calls_fetch",
    "current_calls_parse",
    "current_calls_read",
]
