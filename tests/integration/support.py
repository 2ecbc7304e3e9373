"""Helpers shared by the integration tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from calls.models import Call, Organization
from calls.sandbox.server import SandboxFeed
from tests.factories import ApiTokenFactory, OrganizationFactory


@dataclass
class Stack:
    feed: SandboxFeed
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen[bytes]]

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"----- {name} -----\n" + "\n".join(text))
        return "\n".join(parts)

    def wait_for(self, condition: Callable[[], object], what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            dead = [name for name, p in self.processes.items() if p.poll() is not None]
            if dead:
                raise AssertionError(f"{', '.join(dead)} exited\n{self.log_tail()}")
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{self.log_tail()}")


def watched_org(stack: Stack, invoca_id: str) -> Organization:
    token = f"int-token-{invoca_id}"
    stack.feed.add_organization(invoca_id, token, target_live=0)
    org = OrganizationFactory.create(
        invoca_id=invoca_id,
        api_base_url=stack.feed.url,
        poll_interval_seconds=1.0,
        clean_misses_to_end=2,
    )
    ApiTokenFactory.create(organization=org, secret=token)
    return org


def stop_polling(org: Organization) -> None:
    Organization.objects.filter(pk=org.pk).update(enabled=False)
    time.sleep(0.5)  # let a poll in flight finish before the tables are emptied


def call_row(org: Organization, transaction_id: str) -> Call | None:
    return Call.objects.filter(organization=org, transaction_id=transaction_id).first()


def call_existing(org: Organization, transaction_id: str) -> Call:
    """The row of a call the test has already seen arrive."""
    return Call.objects.get(organization=org, transaction_id=transaction_id)
