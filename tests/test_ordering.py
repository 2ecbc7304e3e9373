"""Every query says its order: no model orders itself implicitly, and the reads that show a
list put it in the order a reader expects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.utils import timezone

from calls.models import AuditEvent, HighlightRule
from calls.selectors.live import highlight_rules_by_org
from calls.services import calls_purge
from calls.services.organizations import api_tokens_unbound_deactivate
from tests.factories import ApiTokenFactory, OrganizationFactory


def test_no_model_orders_itself_implicitly():
    implicit = {
        model.__name__: model._meta.ordering
        for model in apps.get_app_config("calls").get_models()
        if model._meta.ordering
    }
    assert implicit == {}, "order each query explicitly instead of Meta.ordering"


def test_every_admin_list_and_inline_of_the_app_says_its_order():
    unordered = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "calls":
            continue
        for shown in (model_admin, *(inline(model, admin.site) for inline in model_admin.inlines)):
            if not shown.ordering:
                unordered.append(type(shown).__name__)
    assert unordered == []


@pytest.mark.django_db
def test_highlight_rules_come_in_their_position_order():
    organization = OrganizationFactory.create()
    for position, label in ((2, "second"), (1, "first"), (3, "third")):
        HighlightRule.objects.create(
            organization=organization,
            field="lead_type",
            value="hot",
            label=label,
            position=position,
        )

    rules = highlight_rules_by_org(organization_ids=[organization.pk])[organization.pk]

    assert [rule.label for rule in rules] == ["first", "second", "third"]


@pytest.mark.django_db
def test_purge_reports_organizations_by_name():
    for name in ("Zeta", "Alpha", "Mid"):
        OrganizationFactory.create(name=name)

    report = calls_purge(now=timezone.now() + timedelta(days=1), dry_run=True)

    assert [organization.name for organization in report.organizations] == ["Alpha", "Mid", "Zeta"]


@pytest.mark.django_db
def test_tokens_left_behind_by_a_moved_base_url_are_audited_newest_first():
    organization = OrganizationFactory.create()
    older, newer = ApiTokenFactory.create_batch(2, organization=organization)
    organization.api_base_url = "https://elsewhere.invoca.net/api/2022-08-01"

    api_tokens_unbound_deactivate(organization=organization, actor=None)

    events = AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_DEACTIVATED)
    assert list(events.order_by("pk").values_list("object_id", flat=True)) == [
        str(newer.pk),
        str(older.pk),
    ]
