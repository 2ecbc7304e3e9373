"""Django admin for cipdash: organizations and their tokens and members (organizations,
tokens), read-only calls, snapshots and poll runs (calls), and the audit trail (audit)."""

from calls.admin import audit, calls, organizations, tokens

__all__ = ["audit", "calls", "organizations", "tokens"]
