"""A stand-alone fake of Invoca's Calls In Progress API for demos, integration tests and
benchmarks. Stdlib only: it must never import the product's models or API client."""

from calls.sandbox.bulk import bulk_payload, bulk_payload_mutate
from calls.sandbox.clock import ManualClock, real_clock
from calls.sandbox.faults import FAULT_MODES
from calls.sandbox.population import REMOVE, Population
from calls.sandbox.server import SandboxFeed

__all__ = [
    "FAULT_MODES",
    "REMOVE",
    "ManualClock",
    "Population",
    "SandboxFeed",
    "bulk_payload",
    "bulk_payload_mutate",
    "real_clock",
]
