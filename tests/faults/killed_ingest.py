"""Run as `python -m tests.faults.killed_ingest <organization id>`: one scheduled poll that
stops at the very end of its ingest transaction (every call written, missed calls ended, the
run and the organization's row updated; only the commit left) and waits there to be killed."""

from __future__ import annotations

import sys
import time
from typing import Any

import django


def stall_before_commit(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    done = execute(sql, params, many, context)
    if sql.startswith('UPDATE "calls_organizationpollstate"') and "answer_started_at" in sql:
        print("inside-ingest", flush=True)
        time.sleep(120)
    return done


def main(organization_id: int) -> None:
    django.setup()
    from django.db import connection

    from calls import tasks

    with connection.execute_wrapper(stall_before_commit):
        tasks.organization_poll_task(organization_id=organization_id)


if __name__ == "__main__":
    main(int(sys.argv[1]))
