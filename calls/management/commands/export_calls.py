from __future__ import annotations

import functools
import getpass
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from calls.selectors.filters import STATUSES, FilterError, export_filters_parse
from calls.services.exports import ExportOrganizationUnknown, calls_export


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


class Command(BaseCommand):
    help = (
        "Export calls as CSV (one row per call, its latest state), or with --snapshots one row "
        "per snapshot. Same columns and sanitising as the web export. Writes to stdout unless "
        "--output is given. Times are ISO 8601; without a zone they are UTC."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", type=int, help="organization id (default: all)")
        parser.add_argument("--status", choices=STATUSES, default="all")
        parser.add_argument("--since", default="", help="calls live at or after this time")
        parser.add_argument("--until", default="", help="calls live before this time")
        parser.add_argument("--q", default="", help="search: phone, transaction id, custom value")
        parser.add_argument("--snapshots", action="store_true", help="one row per snapshot")
        parser.add_argument("--bom", action="store_true", help="start with a BOM (for Excel)")
        parser.add_argument("--output", help="write to this file instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            filters = export_filters_parse(
                organization=options["org"],
                query=options["q"],
                status=options["status"],
                since=options["since"],
                until=options["until"],
                snapshots=options["snapshots"],
            )
        except FilterError as exc:
            raise CommandError(str(exc)) from None
        try:
            export = calls_export(
                door="cli",
                filters=filters,
                now=timezone.now(),
                viewer=None,  # the operator exports every organization's calls
                actor_name=_operator(),
                bom=options["bom"],
            )
        except ExportOrganizationUnknown as exc:
            raise CommandError(str(exc)) from None
        with ExitStack() as stack:
            write: Callable[[str], object] = functools.partial(self.stdout.write, ending="")
            if options["output"]:
                try:
                    handle = stack.enter_context(
                        open(options["output"], "w", encoding="utf-8", newline="")
                    )
                except OSError as exc:
                    raise CommandError(
                        f"cannot write {options['output']}: {exc.strerror}"
                    ) from None
                write = handle.write
            try:
                for piece in export.lines:
                    write(piece)
            except BrokenPipeError:  # `export_calls | head`: the reader has all it wants
                export.lines.close()  # records the export as incomplete
                raise SystemExit(1) from None
        if options["output"]:
            self.stderr.write(f"exported {export.rows_written} row(s) to {options['output']}")
