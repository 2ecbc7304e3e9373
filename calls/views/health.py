"""/healthz for load balancers and uptime monitors.

HTTP status: 200 while pages can be served (status "ok" or "degraded"), 503 when the database
is unreachable (status "down"). A degraded instance keeps its traffic — its pages still come
from the database — and monitors alert on the "status" field. Anonymous callers see counts;
staff also see each organization's id, name, status and last clean poll age.

For everyone but staff the answer writes nothing and is worked out at most once a second per
process, however many requests arrive.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from calls.selectors.health import (
    CheckResult,
    SystemHealth,
    system_health,
    system_health_recent,
)

HTTP_STATUS_POLICY = "200 while pages can be served (ok or degraded); 503 when the database is down"


def _check(result: CheckResult) -> dict[str, Any]:
    answer: dict[str, Any] = {"ok": result.ok}
    if result.detail:
        answer["detail"] = result.detail
    if result.age_seconds is not None:
        answer["age_seconds"] = round(result.age_seconds, 1)
    return answer


def _organizations(health: SystemHealth, *, detailed: bool) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "total": len(health.organizations),
        "stale": len(health.stale_organizations),
    }
    if detailed:
        answer["items"] = [
            {
                "id": org.id,
                "name": org.name,
                "status": org.status,
                "last_clean_poll_age_seconds": None
                if org.last_clean_poll_age_seconds is None
                else round(org.last_clean_poll_age_seconds, 1),
                "stale": org.stale,
            }
            for org in health.organizations
        ]
    return answer


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    # Anyone may ask: they get the shared read-only answer of the last second. Staff get a
    # fresh one that also writes to the cache to prove it keeps what it is given.
    health = system_health_recent()
    # The user comes from the session table: only look when the database answers.
    detailed = health.serving and bool(getattr(request.user, "is_staff", False))
    if detailed:
        health = system_health()
    body = {
        "status": health.status,
        "serving": health.serving,
        "http_status_policy": HTTP_STATUS_POLICY,
        "reasons": list(health.reasons),
        "checks": {
            "database": _check(health.database),
            "cache": _check(health.cache),
            "broker": _check(health.broker),
            "beat": _check(health.beat),
        },
        "organizations": _organizations(health, detailed=detailed),
    }
    return JsonResponse(body, status=200 if health.serving else 503)
