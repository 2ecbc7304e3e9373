"""The live list's row (templates/calls/_row.html, rendered by calls/views/row_markup.py): what
each kind of row shows, in the viewer's time zone, that every value in it is escaped, and that
the template is compiled once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.template import Context, Engine, Template
from django.utils import timezone

from calls.models import Call, Organization
from calls.presentation import Badge, Caller, CallRow, Field
from calls.templatetags.calls_ui import badges_html
from calls.views import live_rows
from calls.views.row_markup import call_row_html

BRIDGE = datetime(2026, 11, 23, 17, 14, 7, tzinfo=UTC)
BRIDGE_MS = "1795454047000"
FIRST_SEEN = BRIDGE + timedelta(seconds=2)
CALLER = Caller(number="(310) 555-0147", place="California", line_type="Mobile", masked=False)
HOSTILE = "<b>\"Tom\" & 'Jerry'</b>"
ESCAPED = "&lt;b&gt;&quot;Tom&quot; &amp; &#x27;Jerry&#x27;&lt;/b&gt;"

ORDINARY_ROW = (
    "\n"
    '<tr class="call-row" data-call-id="42" data-caller="(310) 555-0147"'
    ' data-campaign="Spring Promo">\n'
    '  <td class="c-caller" data-label="Caller">\n'
    '    <a class="call-link" id="call-link-42" href="/calls/42/">(310) 555-0147</a>\n'
    '    <span class="sub">California · Mobile</span>\n'
    "  </td>\n"
    '  <td class="c-campaign" data-label="Dialled">\n'
    '    <span class="clip">(855) 717-4046</span>\n'
    '    <span class="sub clip">Spring Promo</span>\n'
    '    <span class="sub clip">Acme Insurance</span>\n'
    "  </td>\n"
    '  <td class="c-duration" data-label="On call">\n'
    f'    <time class="timer" datetime="2026-11-23T17:14:07+00:00" data-since="{BRIDGE_MS}">'
    "1:15</time>\n"
    '    <span class="sub">since 17:14:07</span>\n'
    "  </td>\n"
    '  <td class="c-pinned" data-label="Fields">\n'
    '    <dl class="pinned"><div><dt>lead_type</dt><dd class="clip">hot</dd></div></dl>\n'
    "  </td>\n"
    '  <td class="c-ecp" data-label="Caller profile">\n'
    '    <span class="clip">Dana Whitfield</span><span class="sub clip">Torrance, CA</span>\n'
    "  </td>\n"
    '  <td class="c-badges" data-label="Flags">\n'
    "</td>\n"
    '  <td class="c-org" data-label="Organization"><span class="clip">Home Org</span></td>\n'
    "</tr>\n"
    "\n"
)


def a_row(
    *, organization: str = "Home Org", call: dict[str, Any] | None = None, **fields: Any
) -> CallRow:
    """An ordinary live call's row (as ORDINARY_ROW prints it), with `call` columns and row
    `fields` changed."""
    columns = {"bridge_start_time": BRIDGE, "first_seen_at": FIRST_SEEN, "ended_at": None}
    shown = Call(pk=42, organization=Organization(name=organization), **(columns | (call or {})))
    ordinary = CallRow(
        call=shown,
        caller=CALLER,
        dialled="(855) 717-4046",
        campaign="Spring Promo",
        advertiser="Acme Insurance",
        pinned=(Field(name="lead_type", value="hot"),),
        ecp_name="Dana Whitfield",
        ecp_city="Torrance, CA",
        repeat_count=0,
        badges=(),
    )
    return replace(ordinary, **fields)


def html(row: CallRow, *, time_zone: str = "UTC", detail_url: str = "/calls/42/") -> str:
    with timezone.override(time_zone):
        return call_row_html(row, detail_url=detail_url, duration="1:15")


def test_an_ordinary_row() -> None:
    assert html(a_row()) == ORDINARY_ROW


def test_the_row_template_is_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    html(a_row())  # the process's first row
    loads: list[str] = []
    load = Engine.get_template

    def counted(engine: Engine, name: str) -> Template:
        loads.append(name)
        return load(engine, name)

    monkeypatch.setattr(Engine, "get_template", counted)
    rows = [html(a_row(campaign=f"Campaign {n}")) for n in range(3)]
    assert loads == []
    assert [f'data-campaign="Campaign {n}"' in row for n, row in enumerate(rows)] == [True] * 3


# Where a hostile value can come from, and what it must look like in the row.
HOSTILE_PLACES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "calling number": (
        {"caller": replace(CALLER, number=HOSTILE)},
        [f'data-caller="{ESCAPED}"', f'href="/calls/42/">{ESCAPED}</a>'],
    ),
    "place": ({"caller": replace(CALLER, place=HOSTILE)}, [f'"sub">{ESCAPED} · Mobile</span>']),
    "line type": (
        {"caller": replace(CALLER, line_type=HOSTILE)},
        [f'"sub">California · {ESCAPED}</span>'],
    ),
    "dialled number": ({"dialled": HOSTILE}, [f'<span class="clip">{ESCAPED}</span>\n']),
    "campaign": (
        {"campaign": HOSTILE},
        [f'data-campaign="{ESCAPED}"', f'<span class="sub clip">{ESCAPED}</span>'],
    ),
    "advertiser": ({"advertiser": HOSTILE}, [f'<span class="sub clip">{ESCAPED}</span>\n  </td>']),
    "pinned field name": (
        {"pinned": (Field(name=HOSTILE, value="hot"),)},
        [f"<dt>{ESCAPED}</dt>"],
    ),
    "pinned field value": (
        {"pinned": (Field(name="lead_type", value=HOSTILE),)},
        [f'<dd class="clip">{ESCAPED}</dd>'],
    ),
    "profile name": ({"ecp_name": HOSTILE}, [f'<span class="clip">{ESCAPED}</span><span']),
    "profile city": ({"ecp_city": HOSTILE}, [f'<span class="sub clip">{ESCAPED}</span>\n']),
    "badge label": (
        {"badges": (Badge(label=HOSTILE, colour="red"),)},
        [f'<span class="badge badge-red">{ESCAPED}</span>'],
    ),
    "badge colour": (
        {"badges": (Badge(label="Hot", colour=HOSTILE),)},
        [f'<span class="badge badge-{ESCAPED}">Hot</span>'],
    ),
}


@pytest.mark.parametrize("place", HOSTILE_PLACES)
def test_every_value_is_escaped(place: str) -> None:
    fields, fragments = HOSTILE_PLACES[place]
    row = html(a_row(**fields))
    assert HOSTILE not in row and "<b>" not in row
    for fragment in fragments:
        assert fragment in row
    # Nothing opened a tag: the row has the ordinary row's tags (and a badge's, if one).
    badge_tags = 2 * len(fields.get("badges", ()))
    assert row.count("<") == ORDINARY_ROW.count("<") + badge_tags


def test_the_organization_and_the_link_are_escaped() -> None:
    row = html(a_row(organization=HOSTILE), detail_url="/calls/42/?a=1&b=<2>")
    assert f'<span class="clip">{ESCAPED}</span></td>\n</tr>' in row
    assert 'href="/calls/42/?a=1&amp;b=&lt;2&gt;"' in row
    assert HOSTILE not in row


def test_text_is_clipped_before_it_is_escaped() -> None:
    row = html(a_row(campaign="&" * 100))
    assert f'data-campaign="{"&amp;" * 59}…"' in row
    assert f'<span class="sub clip">{"&amp;" * 79}…</span>' in row


def test_a_value_that_looks_like_the_timer_slot_is_not_taken_for_it() -> None:
    row = a_row(campaign="<!--duration-->")  # what the slot looks like, from the feed
    with timezone.override("UTC"):
        head, tail = live_rows._row_render(row, detail_url="/calls/42/")
    assert head.endswith(f'data-since="{BRIDGE_MS}">')
    assert tail.startswith("</time>")
    assert 'data-campaign="&lt;!--duration--&gt;"' in head


@pytest.mark.parametrize(
    ("caller", "facts"),
    [
        (CALLER, "California · Mobile"),
        (replace(CALLER, line_type=""), "California"),
        (replace(CALLER, place=""), "Unknown place · Mobile"),
        (replace(CALLER, place="", line_type=""), "Unknown place"),
        (Caller(number="•••-•••-0147", place="", line_type="", masked=True), "Number masked"),
    ],
)
def test_what_the_row_says_about_the_caller(caller: Caller, facts: str) -> None:
    row = html(a_row(caller=caller))
    assert f'<span class="sub">{facts}</span>' in row
    assert f'data-caller="{caller.number}"' in row and f'">{caller.number}</a>' in row


def test_a_masked_number_shows_no_place() -> None:
    masked = replace(CALLER, number="•••-•••-0147", masked=True)
    row = html(a_row(caller=masked))
    assert "California" not in row and "Mobile" not in row and "555-0147" not in row


@pytest.mark.parametrize(
    ("name", "city", "profile"),
    [
        (
            "Dana",
            "Torrance",
            '<span class="clip">Dana</span><span class="sub clip">Torrance</span>',
        ),
        ("Dana", "", '<span class="clip">Dana</span>'),
        ("", "Torrance", '<span class="clip">—</span><span class="sub clip">Torrance</span>'),
        ("", "", '<span class="muted">—</span>'),
    ],
)
def test_the_caller_profile(name: str, city: str, profile: str) -> None:
    row = html(a_row(ecp_name=name, ecp_city=city))
    assert f'<td class="c-ecp" data-label="Caller profile">\n    {profile}\n  </td>' in row


def test_a_restricted_viewer_sees_the_profile_hidden() -> None:
    row = html(a_row(restricted=True))
    assert (
        '<td class="c-ecp" data-label="Caller profile">\n    <span class="muted">Hidden</span>'
        in row
    )
    assert "Dana" not in row and "Torrance" not in row


def test_highlight_badges_in_order() -> None:
    badges = (Badge(label="Hot lead", colour="red"), Badge(label="VIP", colour="blue"))
    row = html(a_row(badges=badges))
    assert '<tr class="call-row is-highlighted" ' in row
    assert (
        '<td class="c-badges" data-label="Flags"><span class="badge badge-red">Hot lead</span>'
        '<span class="badge badge-blue">VIP</span>\n</td>'
    ) in row


@pytest.mark.parametrize(
    ("count", "badge"),
    [
        (1, '"badge badge-repeat" title="1 earlier call from this number">Repeat \u00d71'),
        (3, '"badge badge-repeat" title="3 earlier calls from this number">Repeat \u00d73'),
    ],
)
def test_a_repeat_caller_badge_after_the_highlights(count: int, badge: str) -> None:
    row = html(a_row(repeat_count=count, badges=(Badge(label="Hot", colour="red"),)))
    assert f'<span class="badge badge-red">Hot</span><span class={badge}</span>\n</td>' in row


def test_a_first_call_has_no_repeat_badge_and_an_unflagged_row_no_highlight() -> None:
    row = html(a_row(repeat_count=0, badges=()))
    assert 'class="badge' not in row and "is-highlighted" not in row
    assert '<td class="c-badges" data-label="Flags">\n</td>' in row


def test_the_wallboard_and_detail_page_print_the_same_badges() -> None:
    row = a_row(repeat_count=2, badges=(Badge(label=HOSTILE, colour="red"),))
    printed = Template("{% load calls_ui %}{% badges row %}").render(Context({"row": row}))
    assert printed == badges_html(row)
    assert f'<span class="badge badge-red">{ESCAPED}</span>' in printed
    assert 'title="2 earlier calls from this number">Repeat \u00d72</span>' in printed


@pytest.mark.parametrize(
    ("pinned", "cell"),
    [
        ((), '<span class="muted">—</span>'),
        (
            (Field(name="lead_type", value=""),),
            '<dl class="pinned"><div><dt>lead_type</dt><dd class="clip">—</dd></div></dl>',
        ),
        (
            (Field(name="a", value="1"), Field(name="b", value="")),
            '<dl class="pinned"><div><dt>a</dt><dd class="clip">1</dd></div>'
            '<div><dt>b</dt><dd class="clip">—</dd></div></dl>',
        ),
    ],
)
def test_pinned_fields(pinned: tuple[Field, ...], cell: str) -> None:
    row = html(a_row(pinned=pinned))
    assert f'<td class="c-pinned" data-label="Fields">\n    {cell}\n  </td>' in row


def test_long_text_is_clipped_where_each_cell_clips_it() -> None:
    row = html(
        a_row(
            campaign="c" * 100,
            advertiser="a" * 81,
            pinned=(Field(name="n" * 31, value="v" * 61),),
            ecp_name="p" * 61,
            ecp_city="t" * 60,
        )
    )
    assert f'data-campaign="{"c" * 59}…"' in row
    assert f'<span class="sub clip">{"c" * 79}…</span>' in row
    assert f'<span class="sub clip">{"a" * 79}…</span>' in row
    assert f'<dt>{"n" * 29}…</dt><dd class="clip">{"v" * 59}…</dd>' in row
    assert f'<span class="clip">{"p" * 59}…</span><span class="sub clip">{"t" * 60}</span>' in row


def test_text_that_fits_is_not_clipped() -> None:
    row = html(a_row(campaign="c" * 60))
    assert f'data-campaign="{"c" * 60}"' in row and "…" not in row


def test_without_campaign_or_advertiser() -> None:
    row = html(a_row(campaign="", advertiser="", dialled=""))
    assert 'data-campaign=""' in row
    assert '<span class="clip">—</span>\n    \n    \n  </td>' in row


def test_an_ended_call() -> None:
    ended_at = BRIDGE + timedelta(minutes=6, seconds=2)
    row = html(a_row(call={"ended_at": ended_at}))
    assert '<tr class="call-row is-ended" ' in row
    assert f'data-since="{BRIDGE_MS}" data-until="{int(ended_at.timestamp() * 1000)}">1:15' in row
    assert '<span class="sub">ended 17:20:09</span>' in row and ">since" not in row


def test_a_live_call_has_no_end() -> None:
    row = html(a_row())
    assert "is-ended" not in row and "data-until" not in row and "ended" not in row


@pytest.mark.parametrize(
    ("time_zone", "bridged", "since"),
    [
        ("UTC", "2026-11-23T17:14:07+00:00", "17:14:07"),
        ("America/Los_Angeles", "2026-11-23T09:14:07-08:00", "09:14:07"),
        ("Asia/Tokyo", "2026-11-24T02:14:07+09:00", "02:14:07"),
        ("Asia/Kolkata", "2026-11-23T22:44:07+05:30", "22:44:07"),
    ],
)
def test_times_are_in_the_viewers_time_zone(time_zone: str, bridged: str, since: str) -> None:
    row = html(a_row(), time_zone=time_zone)
    assert f'datetime="{bridged}" data-since="{BRIDGE_MS}">' in row
    assert f'<span class="sub">since {since}</span>' in row


def test_a_bridge_time_keeps_its_microseconds() -> None:
    row = html(a_row(call={"bridge_start_time": BRIDGE.replace(microsecond=120)}))
    assert f'datetime="2026-11-23T17:14:07.000120+00:00" data-since="{BRIDGE_MS}">' in row


def test_without_a_bridge_time_the_timer_counts_from_first_seen() -> None:
    row = html(a_row(call={"bridge_start_time": None}), time_zone="Asia/Tokyo")
    first_seen_ms = int(FIRST_SEEN.timestamp() * 1000)
    assert f'<time class="timer" datetime="" data-since="{first_seen_ms}">1:15</time>' in row
    assert '<span class="sub">since 02:14:09</span>' in row
