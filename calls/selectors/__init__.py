"""Every read for the pages, the export and the CLI, scoped to what a user may see.

Modules: access (scoping), viewer (a user's organizations, roles and feed health), live (list
and detail pages), find (find a call), health (/healthz), export (CSV rows), polling (what a
poll reads before it asks Invoca).
"""

from calls.selectors.access import calls_visible, memberships_of, organizations_visible

__all__ = ["calls_visible", "memberships_of", "organizations_visible"]
