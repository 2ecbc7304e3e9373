"""Where calls come from: live now and started today, grouped by campaign, by advertiser and
by each pinned custom field, with how many matched a highlight rule. One grouped query per
grouping; the highlight rules are evaluated by the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce, Lower, Trim
from django.db.models.lookups import Contains, Exact, IsNull

from calls.models import (
    CallQuerySet,
    HighlightOperator,
    HighlightRule,
    Organization,
    pinned_field_names,
)
from calls.presentation import DEMOGRAPHICS_SUFFIX, field_hidden, field_values_hidden
from calls.selectors.binning import JSONText
from calls.selectors.live import highlight_rules_by_org
from calls.selectors.viewer import Viewer

TOP_GROUPS = 10
OTHER = "Other"
NO_VALUE = "(none)"


@dataclass(frozen=True, slots=True)
class SourceGroup:
    label: str
    live: int
    today: int
    highlighted_live: int
    highlighted_today: int


@dataclass(frozen=True, slots=True)
class SourceDimension:
    key: str
    title: str
    groups: tuple[SourceGroup, ...]

    @property
    def most_today(self) -> int:
        return max((group.today for group in self.groups), default=0)


@dataclass(frozen=True, slots=True)
class SourcesChart:
    dimensions: tuple[SourceDimension, ...]
    highlight_labels: tuple[str, ...]

    def rows(self) -> list[tuple[str, SourceGroup]]:
        return [(dim.title, group) for dim in self.dimensions for group in dim.groups]


def _custom_text(name: str) -> JSONText:
    return JSONText("custom_data", name, "value")


def _dimensions(viewer: Viewer) -> list[tuple[str, str, JSONText]]:
    """(key, title, value expression) of each grouping the viewer may see."""
    dimensions = [
        ("campaign", "Campaign", JSONText("general", "advertiser_campaign_name")),
        ("advertiser", "Advertiser", JSONText("general", "advertiser_name")),
    ]
    restricted = any(org.restricted for org in viewer.organizations)
    for name in _pinned_fields(viewer):
        if not field_values_hidden(name=name, restricted=restricted):
            dimensions.append((f"custom:{name}", name, _custom_text(name)))
    return dimensions


def _pinned_fields(viewer: Viewer) -> list[str]:
    names: list[str] = []
    pinned = Organization.objects.filter(pk__in=viewer.ids).order_by("name", "pk")
    for fields in pinned.values_list("pinned_fields", flat=True):
        names.extend(name for name in pinned_field_names(fields) if name not in names)
    return names


def _rule_q(rule: HighlightRule) -> Q:
    text: Coalesce | JSONText
    if rule.scope == HighlightRule.Scope.DEMOGRAPHICS:
        text = Coalesce(
            JSONText("demographics", rule.field),
            JSONText("demographics", rule.field + DEMOGRAPHICS_SUFFIX),
        )
    else:
        text = _custom_text(rule.field)
    wanted = rule.value.strip().casefold()
    if rule.operator == HighlightOperator.PRESENT:
        return (
            Q(IsNull(text, False))
            & ~Q(Exact(Trim(text), Value("")))
            & ~Q(Exact(text, Value("false")))
        )
    if rule.operator == HighlightOperator.CONTAINS:
        return Q(Contains(Lower(text), Value(wanted))) if wanted else Q(pk__in=[])
    return Q(Exact(Lower(Trim(text)), Value(wanted)))


def _highlighted_q(viewer: Viewer) -> tuple[Q, tuple[str, ...]]:
    """Calls matching any highlight rule the viewer may see (as badges_for shows them)."""
    condition, labels = Q(pk__in=[]), []
    for organization_id, rules in highlight_rules_by_org(organization_ids=viewer.ids).items():
        organization = viewer.organization(organization_id)
        restricted = organization is not None and organization.restricted
        for rule in rules:
            if restricted and (
                rule.scope == HighlightRule.Scope.DEMOGRAPHICS
                or field_hidden(name=rule.field, restricted=True)
            ):
                continue
            condition |= Q(organization_id=organization_id) & _rule_q(rule)
            if rule.label not in labels:
                labels.append(rule.label)
    return condition, tuple(labels)


def _top(groups: list[SourceGroup]) -> tuple[SourceGroup, ...]:
    ranked = sorted(groups, key=lambda group: (-group.today, -group.live, group.label))
    top, rest = ranked[:TOP_GROUPS], ranked[TOP_GROUPS:]
    if rest:
        top.append(
            SourceGroup(
                label=OTHER,
                live=sum(group.live for group in rest),
                today=sum(group.today for group in rest),
                highlighted_live=sum(group.highlighted_live for group in rest),
                highlighted_today=sum(group.highlighted_today for group in rest),
            )
        )
    return tuple(top)


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def sources_chart(*, calls: CallQuerySet, viewer: Viewer, since: datetime) -> SourcesChart:
    """Calls live now or started since `since`, grouped each way the viewer may see.

    One statement reads each call once: its rows are the distinct combinations of the
    groupings' values with whether the call is live, started today and highlighted, counted
    by the database; each grouping's totals are summed from them."""
    highlighted, labels = _highlighted_q(viewer)
    live, today = Q(ended_at__isnull=True), Q(first_seen_at__gte=since)
    dimensions = _dimensions(viewer)
    groups = {f"group_{index}": expression for index, (_, _, expression) in enumerate(dimensions)}
    flags = {"is_live": _flag(live), "is_today": _flag(today), "is_hot": _flag(highlighted)}
    # Two parts that each follow an index (today's ended calls, and the live ones), where
    # one "live or today" condition would read every call.
    parts = [calls.filter(today, ended_at__isnull=False), calls.filter(live)]
    grouped = [
        part.order_by()
        .annotate(**groups, **flags)
        .values_list(*groups, *flags)
        .annotate(n=Count("pk"))
        for part in parts
    ]
    merged: list[dict[str, list[int]]] = [{} for _ in dimensions]
    for *values, is_live, is_today, is_hot, count in grouped[0].union(grouped[1], all=True):
        for index, value in enumerate(values):
            # NULL and "" are the same "no value" group.
            totals = merged[index].setdefault(str(value) if value else NO_VALUE, [0, 0, 0, 0])
            totals[0] += count * is_live
            totals[1] += count * is_today
            totals[2] += count * is_live * is_hot
            totals[3] += count * is_today * is_hot
    return SourcesChart(
        dimensions=tuple(
            SourceDimension(
                key=key,
                title=title,
                groups=_top([SourceGroup(label, *counts) for label, counts in found.items()]),
            )
            for (key, title, _), found in zip(dimensions, merged, strict=True)
        ),
        highlight_labels=labels,
    )
