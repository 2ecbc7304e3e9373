"""The embedded setup's Celery broker: kombu's filesystem transport, each message written
whole before a worker can see it.

Kombu creates a message's file and only then writes it. A worker listing the queue folder in
between takes the empty file, cannot decode it and stops (and the message is lost): `make
run` ended that way under load. Here a message is written under a name no worker takes,
then renamed into place, which is atomic within a folder.

This overrides kombu's private `Channel._put` and relies on its `_get` taking only names
ending "<queue>.msg": kombu is pinned to 5.7 (pyproject.toml), tests/settings/test_broker.py
runs the override against kombu's own reader and tests/test_upstream_shapes.py checks the
method's shape.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic_ns
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

PARTIAL_SUFFIX = ".partial"  # after ".msg": a worker takes only names ending "<queue>.msg"


class Channel(filesystem.Channel):
    # The signature of kombu's filesystem Channel, which its stubs mark as overriding the
    # base one incompatibly.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        # kombu's form of name, which workers sort and pick by; its milliseconds are
        # nanoseconds here, zero-padded, so that the sorted order is the order sent.
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
