"""Every read for the pages, the export and the CLI, scoped to what a user may see.

Modules: access (scoping and roles), live (list and detail pages), export (CSV rows).
"""

from calls.selectors.access import calls_visible, memberships_of, organizations_visible

__all__ = ["calls_visible", "memberships_of", "organizations_visible"]
