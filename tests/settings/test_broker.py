"""The embedded broker (cipdash.broker): a worker never sees a message before it is whole."""

from __future__ import annotations

import os
from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection

from cipdash import broker


@pytest.fixture
def channel(tmp_path: Path):
    folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
        "store_processed": False,
    }
    with Connection(transport=broker.Transport, transport_options=options) as connection:
        yield connection.default_channel


def test_a_message_being_written_is_not_taken(channel, monkeypatch):
    seen_while_writing: list[str] = []
    rename = os.replace

    def replace(source, target):  # the moment between writing the message and showing it
        try:
            seen_while_writing.append(str(channel._get("celery")))
        except Empty:
            seen_while_writing.append("nothing")
        rename(source, target)

    monkeypatch.setattr("cipdash.broker.os.replace", replace)
    channel._put("celery", {"body": "poll 7"})
    assert seen_while_writing == ["nothing"]
    assert channel._get("celery") == {"body": "poll 7"}


def test_messages_keep_their_order_and_queue(channel):
    for number in range(3):
        channel._put("celery", {"n": number})
    channel._put("other", {"n": "elsewhere"})
    assert [channel._get("celery")["n"] for _ in range(3)] == [0, 1, 2]
    assert channel._get("other") == {"n": "elsewhere"}
