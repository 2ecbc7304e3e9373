"""The page selectors: everything one live page shows in one call, and nothing read beyond
the viewer when the poll asking already shows the page's version."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from calls.models import UserPreference
from calls.selectors.filters import ListFilters
from calls.selectors.pages import call_detail_page, live_page
from calls.selectors.viewer import viewer_get
from tests.views.conftest import World, world

__all__ = ["world"]  # fixture


def user_of(world: World, persona: str) -> User:
    user = world.users[persona]
    assert user is not None
    return user


def test_live_page_reads_the_rows_and_the_viewers_time_zone(world: World) -> None:
    user = user_of(world, "supervisor")
    UserPreference.objects.create(user=user, time_zone="Europe/Paris")
    page = live_page(
        viewer=viewer_get(user=user),
        filters=ListFilters(),
        wall=False,
        now=timezone.now(),
        shown_version=None,
    )
    assert not page.unchanged
    assert [row.call.transaction_id for row in page.rows] == ["HOME1"]
    assert page.total == 1
    assert page.user_time_zone == "Europe/Paris"
    assert page.problems == [] and not page.services_down


def test_live_page_is_unchanged_for_its_own_version_without_a_query(
    world: World, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    viewer = viewer_get(user=user_of(world, "agent"))
    now = timezone.now()
    first = live_page(viewer=viewer, filters=ListFilters(), wall=True, now=now, shown_version=None)
    with django_assert_num_queries(0):
        again = live_page(
            viewer=viewer, filters=ListFilters(), wall=True, now=now, shown_version=first.version
        )
    assert again.unchanged and again.rows == [] and again.version == first.version
    listed = live_page(
        viewer=viewer, filters=ListFilters(), wall=False, now=now, shown_version=first.version
    )
    assert not listed.unchanged  # the list and the wallboard have versions of their own


def test_detail_page_is_none_for_a_call_the_viewer_may_not_open(world: World) -> None:
    viewer = viewer_get(user=user_of(world, "agent"))
    assert (
        call_detail_page(
            viewer=viewer, call_id=world.foreign_call.pk, now=timezone.now(), shown_version=None
        )
        is None
    )


def test_detail_page_masks_what_the_restricted_role_may_not_see(world: World) -> None:
    def page_for(persona: str):  # type: ignore[no-untyped-def]
        page = call_detail_page(
            viewer=viewer_get(user=user_of(world, persona)),
            call_id=world.call.pk,
            now=timezone.now(),
            shown_version=None,
        )
        assert page is not None
        return page

    supervised, restricted = page_for("supervisor"), page_for("restricted")
    assert supervised.raw_payload and supervised.demographics
    assert not supervised.restricted and restricted.restricted
    assert restricted.raw_payload == "" and restricted.demographics == ()
    assert restricted.row is not None and restricted.row.restricted


def test_detail_page_is_unchanged_for_its_own_version_after_one_query(
    world: World, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    viewer = viewer_get(user=user_of(world, "agent"))
    now = timezone.now()
    first = call_detail_page(viewer=viewer, call_id=world.call.pk, now=now, shown_version=None)
    assert first is not None and not first.unchanged and first.row is not None
    with django_assert_num_queries(1):  # the call itself: is it still the viewer's?
        again = call_detail_page(
            viewer=viewer, call_id=world.call.pk, now=now, shown_version=first.version
        )
    assert again is not None and again.unchanged and again.row is None
