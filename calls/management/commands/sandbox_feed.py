"""`manage.py sandbox_feed`: serve the fake Invoca Calls In Progress API until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls.sandbox import SandboxFeed

DEMO_ORG = "1001:sandbox-demo-token:Network"


@dataclass(frozen=True)
class OrgSpec:
    invoca_id: str
    token: str
    organization_type: str = "Network"
    slim: bool = False


def parse_org_spec(text: str) -> OrgSpec:
    """`INVOCA_ID:TOKEN[:Network|Advertiser][:slim]` -> OrgSpec (argparse type)."""
    parts = text.split(":")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected INVOCA_ID:TOKEN[:Network|Advertiser][:slim]"
        )
    invoca_id, token, *rest = parts
    organization_type, slim = "Network", False
    for extra in rest:
        if extra in ("Network", "Advertiser"):
            organization_type = extra
        elif extra == "slim":
            slim = True
        else:
            raise argparse.ArgumentTypeError(
                f"{text!r}: unknown part {extra!r} (use Network, Advertiser or slim)"
            )
    return OrgSpec(invoca_id, token, organization_type, slim)


def build_feed(options: dict[str, Any]) -> SandboxFeed:
    feed = SandboxFeed(
        host=options["host"],
        port=options["port"],
        seed=options["seed"],
        min_duration=options["min_duration"],
        max_duration=options["max_duration"],
        target_live=options["target_live"],
        verbose=options.get("verbosity", 1) >= 2,
    )
    for spec in options["org"] or [parse_org_spec(DEMO_ORG)]:
        feed.add_organization(spec.invoca_id, spec.token, spec.organization_type, spec.slim)
    return feed


class Command(BaseCommand):
    help = (
        "Serve a fake Invoca Calls In Progress API (a seeded, ever-changing population of live "
        "calls per organization) until Ctrl-C. Point an organization's base URL at the printed "
        "URL and use its token. Faults can be switched on while it runs with "
        'POST /_sandbox/fault {"mode": "503", "count": 3} (DELETE to clear); request counts at '
        "GET /_sandbox/stats; -v 2 logs every request. With no --org, serves the demo organization "
        f"{DEMO_ORG.replace(':', ' / ')}."
    )
    requires_system_checks: list[str] = []  # needs no database or settings beyond Django's own

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
        )
        parser.add_argument(
            "--port",
            type=int,
            default=8765,
            help="port to listen on; 0 picks a free one (default: %(default)s)",
        )
        parser.add_argument(
            "--seed", type=int, default=0, help="random seed of the call population (default: 0)"
        )
        parser.add_argument(
            "--org",
            action="append",
            type=parse_org_spec,
            metavar="INVOCA_ID:TOKEN[:Network|Advertiser][:slim]",
            help="an organization to serve (repeatable). The token is the raw Authorization "
            "header value. 'slim' serves attribution-only calls without custom data. "
            f"Default: {DEMO_ORG}",
        )
        parser.add_argument(
            "--target-live",
            type=int,
            default=8,
            help="live calls to keep around, per organization (default: %(default)s)",
        )
        parser.add_argument(
            "--min-duration",
            type=float,
            default=20.0,
            help="shortest call, in seconds (default: %(default)s)",
        )
        parser.add_argument(
            "--max-duration",
            type=float,
            default=240.0,
            help="longest call, in seconds (default: %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            feed = build_feed(options)
        except ValueError as error:
            raise CommandError(str(error)) from error
        if feed.verbose:
            sandbox_logger = logging.getLogger("calls.sandbox")
            sandbox_logger.setLevel(logging.INFO)
            if not sandbox_logger.hasHandlers():  # the project's LOGGING may already show it
                sandbox_logger.addHandler(logging.StreamHandler(sys.stderr))
        try:
            feed.start()
        except OSError as error:
            where = f"{options['host']}:{options['port']}"
            raise CommandError(f"cannot listen on {where}: {error}") from error
        # From here on Ctrl-C may come at any moment, even while the banner is written.
        try:
            self.stdout.write(feed.url)
            self.stdout.flush()
            for account in feed.stats()["organizations"]:
                kind = " (slim)" if account["slim"] else ""
                self.stderr.write(
                    f"  organization {account['invoca_id']} {account['organization_type']}{kind}"
                )
            self.stderr.write("Serving until Ctrl-C.")
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            feed.stop()
