"""While the database does not answer, pages answer 503 with a short page, not a server error.
(tests/faults/test_servers_postgres.py stops a real PostgreSQL under gunicorn.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, InterfaceError, OperationalError, connection
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def failing_with(error: type[Exception]) -> Callable[..., Any]:
    def execute(*_: object) -> Any:
        raise error("server closed the connection unexpectedly")

    return execute


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_page_answers_503_while_the_database_is_unreachable(
    client: Client, error: type[Exception], caplog: pytest.LogCaptureFixture
) -> None:
    client.force_login(UserFactory.create())
    with connection.execute_wrapper(failing_with(error)):
        response = client.get(reverse("calls:live"), secure=True)
    assert response.status_code == 503
    assert "cannot reach its database" in response.content.decode()
    assert response.headers["Retry-After"].isdigit()
    assert response.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in response.headers
    assert "database unavailable: " in caplog.text


def test_other_database_errors_stay_server_errors(client: Client) -> None:
    client.force_login(UserFactory.create())
    with (
        connection.execute_wrapper(failing_with(IntegrityError)),
        pytest.raises(IntegrityError),
    ):
        client.get(reverse("calls:live"), secure=True)


def test_with_debug_on_django_shows_the_error_itself(client: Client, settings: Any) -> None:
    settings.DEBUG = True
    client.force_login(UserFactory.create())
    with (
        connection.execute_wrapper(failing_with(OperationalError)),
        pytest.raises(OperationalError),
    ):
        client.get(reverse("calls:live"), secure=True)
