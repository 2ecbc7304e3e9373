"""How JSON columns are written and read back: the same values, several times faster.

A poll that brings hundreds of new or changed calls writes each one's fields and a snapshot
of it, about ten kilobytes of JSON per call; the standard encoder was a large part of that.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
from django.db import models

# What JSON has no word for goes to the standard encoder, which refuses it as before, rather
# than being written in orjson's own way.
_PASS_THROUGH = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def json_loads(text: str) -> Any:
    """`json.loads`, through orjson where it can (several times faster). orjson refuses what
    only Python's json reads (NaN, Infinity, lone surrogates) and turns integers beyond 64 bits
    into floats: callers that write values out must not trust its floats (calls.export.rows)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def json_object(text: str | None, *, loads: Callable[[str], Any] = json_loads) -> dict[str, Any]:
    """A column's JSON object ({} for anything else, or for no text)."""
    value = loads(text) if text else None
    return value if type(value) is dict else {}


class CompactJSONEncoder(json.JSONEncoder):
    """Compact JSON from orjson; what it cannot write (integers beyond 64 bits, keys that are
    not text, the types above) from the standard encoder."""

    def encode(self, o: Any) -> str:
        try:
            return orjson.dumps(o, option=_PASS_THROUGH).decode()
        except TypeError:  # orjson.JSONEncodeError included
            return super().encode(o)


class CompactJSONField(models.JSONField):
    """A JSON column written with CompactJSONEncoder, one query parameter per value.

    Having a placeholder of its own keeps PostgreSQL's bulk insert off its UNNEST form, which
    puts every value of a column into one array literal and escapes each of its quotes in
    Python: most of the cost of inserting hundreds of calls and their snapshots."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("encoder", CompactJSONEncoder)
        super().__init__(*args, **kwargs)

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        return "%s"
