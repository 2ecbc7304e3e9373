"""Every write cipdash makes. Views, tasks and commands call these and nothing else."""

from calls.services.database import database_checkpoint
from calls.services.ingest import IngestCounts, calls_apply
from calls.services.organizations import (
    api_token_add,
    organization_create,
    organization_set_enabled,
)
from calls.services.poll_batches import PollBatch, poll_batch_run, poll_batches_claim
from calls.services.poll_lock import PollInProgress
from calls.services.polling import (
    PollAttempt,
    PollSlot,
    call_lookup,
    organization_poll,
    organization_poll_slot,
    poll_failure_record,
    poll_result_ingest,
    polls_claim_due,
)
from calls.services.purge import PurgeCounts, PurgeReport, calls_purge
from calls.services.unconfirmed import calls_end_unconfirmed

__all__ = [
    "IngestCounts",
    "PollAttempt",
    "PollBatch",
    "PollInProgress",
    "PollSlot",
    "PurgeCounts",
    "PurgeReport",
    "api_token_add",
    "call_lookup",
    "calls_apply",
    "calls_end_unconfirmed",
    "calls_purge",
    "database_checkpoint",
    "organization_create",
    "organization_poll",
    "organization_poll_slot",
    "organization_set_enabled",
    "poll_batch_run",
    "poll_batches_claim",
    "poll_failure_record",
    "poll_result_ingest",
    "polls_claim_due",
]
