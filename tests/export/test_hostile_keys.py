"""Payload keys become header cells: a key that starts like a formula is neutralised like a
value, in the web export and in `export_calls` alike."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from calls.export.rows import CALL_COLUMNS
from calls.models import Role
from tests.export.data import T0, calls_ingest
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory, call_payload

pytestmark = pytest.mark.django_db

HOSTILE_KEYS = ("=cmd|' /C calc'!A0", "+x", "@x", "-x", "\tx", "\rx", "=1+1")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def organization():
    org = OrganizationFactory.create(name="Hostile Keys")
    hostile = dict.fromkeys(HOSTILE_KEYS, "v")
    calls_ingest(
        org,
        [
            call_payload(
                "HOSTILE1",
                **hostile,
                custom_data={key: {"value": "v", "source": "Api"} for key in HOSTILE_KEYS},
                demographics_data={key: "v" for key in HOSTILE_KEYS},
            )
        ],
        T0,
    )
    return org


def assert_header_neutralised(text: str) -> None:
    header, row = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert header[: len(CALL_COLUMNS)] == list(CALL_COLUMNS)
    for key in HOSTILE_KEYS:
        # Top-level keys are header cells as they came; now each is shown as text.
        assert "'" + key in header
        assert key not in header
        assert f"custom.{key}" in header and f"demographics.{key}" in header
    assert not [cell for cell in header if cell.startswith(FORMULA_STARTS)]
    assert len(row) == len(header) and "HOSTILE1" in row


def test_the_web_export_neutralises_header_cells(client, organization):
    user = UserFactory.create()
    MembershipFactory.create(user=user, organization=organization, role=Role.SUPERVISOR)
    client.force_login(user)
    response = client.get(reverse("calls:export"), {"status": "all"}, secure=True)
    assert response.status_code == 200
    assert_header_neutralised(response.getvalue().decode("utf-8"))


@pytest.mark.parametrize("snapshots", [False, True])
def test_export_calls_neutralises_header_cells(organization, snapshots):
    out = io.StringIO()
    call_command("export_calls", *(["--snapshots"] if snapshots else []), stdout=out)
    assert_header_neutralised(out.getvalue())
