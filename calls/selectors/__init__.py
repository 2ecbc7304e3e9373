"""Every read for the pages, the export and the CLI, scoped to what a user may see.

Modules: viewer (a user's organizations, roles and feed health: every page's scope), access
(the calls a viewer may read), filters (the list's, wallboard's and export's filters, parsed
from a query string), pages (all one live page shows, in one call), live (the list's and the
detail's calls), find (find a call), search (the search box), health (/healthz), export (CSV
rows), polling (what a poll reads before it asks Invoca).
"""
