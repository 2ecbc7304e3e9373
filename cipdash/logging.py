"""Log lines: plain text, or one JSON object per line for log shippers (LOG_FORMAT=json).

A record's `extra` fields become JSON keys, so a poll's event carries its organization,
outcome, counts and duration as fields rather than as text to parse. Callers put only ids,
outcomes and numbers in `extra`: no token, no caller data. A record about a request (Django's
`django.request` and `django.security` loggers) also names the client's address.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest

from cipdash.proxy import client_address

# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName"}


class RequestClientFilter(logging.Filter):
    """Adds `client_address` to records about a request: the client as the trusted proxies
    report it, not the proxy every request comes from."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if isinstance(request, HttpRequest):
            record.client_address = client_address(request)
        return True


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        address = getattr(record, "client_address", None)
        return f"{line} client={address}" if address else line


def _loggable(value: Any) -> Any:
    # A request's own text quotes its query string, which holds what agents searched for
    # (phone numbers): the method and path say which request it was.
    if isinstance(value, HttpRequest):
        return f"{value.method} {value.path}"
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                event[name] = _loggable(value)
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str, ensure_ascii=False)
