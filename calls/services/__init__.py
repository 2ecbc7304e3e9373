"""Every write cipdash makes. Views, tasks and commands call these and nothing else."""

from calls.services.database import database_checkpoint
from calls.services.ingest import IngestCounts, calls_apply
from calls.services.organizations import (
    api_token_add,
    organization_create,
    organization_set_enabled,
)
from calls.services.polling import (
    PollAttempt,
    PollSlot,
    call_lookup,
    organization_poll,
    poll_failure_record,
    poll_result_ingest,
    polls_claim_due,
)
from calls.services.purge import PurgeCounts, calls_purge

__all__ = [
    "IngestCounts",
    "PollAttempt",
    "PollSlot",
    "PurgeCounts",
    "api_token_add",
    "call_lookup",
    "calls_apply",
    "calls_purge",
    "database_checkpoint",
    "organization_create",
    "organization_poll",
    "organization_set_enabled",
    "poll_failure_record",
    "poll_result_ingest",
    "polls_claim_due",
]
