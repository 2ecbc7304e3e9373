"""axe-core (from npm) on the list, detail, login and wallboard: no serious or critical
violations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pytest

from calls.models import Call
from tests.browser.conftest import AXE, Session, db_lock
from tests.browser.scenario import floor_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def axe_problems(session: Session) -> list[str]:
    # The page's CSP forbids injected scripts, so this context bypasses CSP for axe alone.
    session.page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = session.page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        f"{violation['id']} ({violation['impact']}): "
        + "; ".join(node["target"][0] for node in violation["nodes"][:3])
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(
    open_session: Callable[..., Session], scheme: Literal["light", "dark"]
) -> None:
    floor = floor_create()
    with db_lock:
        hot = Call.objects.get(transaction_id="TXHOT1")
    anonymous = open_session(None, bypass_csp=True)
    anonymous.page.emulate_media(color_scheme=scheme)
    anonymous.goto("/login/")
    problems = {"login": axe_problems(anonymous)}

    session = open_session(floor.agent, bypass_csp=True)
    session.page.emulate_media(color_scheme=scheme)
    pages = (
        ("list", "/"),
        ("detail", f"/calls/{hot.pk}/"),
        ("wallboard", "/wall/"),
        ("find", "/calls/find/"),
    )
    for name, path in pages:
        session.goto(path)
        problems[name] = axe_problems(session)
    assert problems == {"login": [], "list": [], "detail": [], "wallboard": [], "find": []}
