"""Run as `python -m tests.faults.stalled_ingest <organization id>`: one scheduled poll whose
ingest stops inside its transaction (after the calls are written, before the snapshots are
committed) and waits there to be killed."""

from __future__ import annotations

import sys
import time

import django


def main(organization_id: int) -> None:
    django.setup()
    from calls import tasks
    from calls.models import CallSnapshot
    from calls.services import bulk_sql, ingest

    rows_insert = bulk_sql.rows_insert

    def write_then_stall(model, *args, **kwargs):  # type: ignore[no-untyped-def]
        rows_insert(model, *args, **kwargs)
        if model is CallSnapshot:
            print("inside-ingest", flush=True)
            time.sleep(120)

    # Where the ingest looks the function up.
    setattr(ingest, "rows_insert", write_then_stall)  # noqa: B010
    tasks.organization_poll_task(organization_id=organization_id)


if __name__ == "__main__":
    main(int(sys.argv[1]))
