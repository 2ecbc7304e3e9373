"""The only door to Invoca's Calls In Progress API.

`current_calls_fetch` makes one GET with the token in the Authorization header and returns a
`CurrentCallsResult` of typed, immutable `CurrentCall` objects, or raises one `InvocaError`
subclass. The token goes only to the origin it was entered for, on a host the installation
allows (calls.invoca.origins). Nothing here logs or stores the token or the URL's query
(which never holds it).
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
    OriginRefused,
    RateLimited,
    RequestRejected,
    Unavailable,
)
from calls.invoca.jsontext import KnownCall
from calls.invoca.origins import INVOCA_HOSTS, base_url_check, url_origin
from calls.invoca.parsing import (
    CurrentCall,
    CurrentCallsResult,
    CustomField,
    current_calls_parse,
)

__all__ = [
    "INVOCA_HOSTS",
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
    "OriginRefused",
    "RateLimited",
    "RequestRejected",
    "Unavailable",
    "base_url_check",
    "current_calls_fetch",
    "current_calls_parse",
    "current_calls_read",
    "url_origin",
]
