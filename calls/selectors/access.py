"""Who may see what: every read of calls starts from the calls of the viewer's organizations
(calls.selectors.viewer.viewer_get lists only those the user belongs to, all for staff)."""

from __future__ import annotations

from calls.models import Call, CallQuerySet
from calls.selectors.viewer import Viewer


def calls_of_viewer(*, viewer: Viewer) -> CallQuerySet:
    """The calls of the viewer's organizations."""
    return Call.objects.filter(organization_id__in=viewer.ids)
