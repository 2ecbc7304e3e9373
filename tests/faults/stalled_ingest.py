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

    write_snapshots = CallSnapshot.objects.bulk_create

    def write_then_stall(*args, **kwargs):  # type: ignore[no-untyped-def]
        created = write_snapshots(*args, **kwargs)
        print("inside-ingest", flush=True)
        time.sleep(120)
        return created

    CallSnapshot.objects.bulk_create = write_then_stall  # type: ignore[method-assign]
    tasks.organization_poll(organization_id)


if __name__ == "__main__":
    main(int(sys.argv[1]))
