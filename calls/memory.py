"""Pausing Python's cycle collector around bulk work that makes no reference cycles.

A poll of thousands of calls allocates hundreds of thousands of objects (the decoded body, the
parsed calls, the rows to write). Each allocation burst triggers collections that walk every
young object, and now and then all of them, and free nothing: none of these objects is part of a
cycle. That walking was about a third of the time of a large poll. Reference counting frees
everything as usual while the collector waits.

The one place that pauses it is the whole poll or lookup (calls.services.polling), from the
request to the commit: switched back on while the decoded body is still alive, the collector's
first pass would walk all of it. Parsing and writing do not pause it themselves: the other
reader of answers, Test connection, parses one answer and writes nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
