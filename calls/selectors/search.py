"""What a search box's text matches, for each role.

Restricted viewers see a caller's number as its last four digits only ("•••• 0147"). Their
phone searches compare only those digits: a full number would otherwise confirm who a masked
caller is (one call found for "+1 310 555 0147", none for "+1 999 555 0147").
"""

from __future__ import annotations

import re

from django.db.models import Q
from django.db.models.functions import Length, Right
from django.db.models.lookups import Contains, GreaterThanOrEqual

from calls.phones import phone_e164
from calls.selectors.viewer import Viewer

# What phone_mask shows of a number.
MASK_DIGITS = 4
# Digits with the punctuation people type in phone numbers, and nothing else.
_PHONE_TEXT = re.compile(r"[\d\s+().\-/]*\d[\d\s+().\-/]*")
# Only a parsed (E.164) number's last four characters are its last four digits, and only with
# more than four digits does the mask show them: "+" and five digits or more.
_SHORTEST_MASKED_E164 = MASK_DIGITS + 2


def phone_query_digits(text: str) -> str:
    """The digits of a search that is a phone number or part of one ("" for other text)."""
    if not _PHONE_TEXT.fullmatch(text):
        return ""
    return "".join(c for c in text if c.isdigit())


def search_q(text: str) -> Q:
    """A phone number in any format, a transaction / call record / external id, or any
    custom data value."""
    condition = _ids_or_custom_q(text)
    e164 = phone_e164(text) if sum(c.isdigit() for c in text) >= 7 else ""
    if e164:
        condition |= (
            Q(calling_phone_number=e164)
            | Q(called_phone_number=e164)
            | Q(destination_phone_number=e164)
        )
    return condition


def masked_search_q(text: str) -> Q:
    """search_q for a restricted viewer: a phone search matches the last four digits of the
    caller's number only; other text matches the call's ids, never a number and never custom
    data. Custom data holds what the role does not see (a caller's city, numbers the pages
    mask), and one search of the stored text for such a value would confirm it."""
    digits = phone_query_digits(text)
    if digits:
        return masked_number_q("calling_phone_number", digits)
    return _ids_q(text)


def masked_number_q(field: str, digits: str) -> Q:
    """Numbers in `field` whose last four digits contain the query's last four.

    Only the query's last four digits count, so a longer query never narrows the result
    further than its last four alone would: "+1 310 555 0147" and "+1 999 555 0147" find the
    same calls, and typing a full number confirms nothing the mask does not already show."""
    shown = digits[-MASK_DIGITS:]
    if not shown:
        return Q(pk__in=[])
    return Q(
        Contains(Right(field, MASK_DIGITS), shown),
        GreaterThanOrEqual(Length(field), _SHORTEST_MASKED_E164),
        **{f"{field}__startswith": "+"},
    )


def viewer_search_q(text: str, *, viewer: Viewer) -> Q:
    """search_q in the viewer's organizations, masked_search_q in those where the viewer's
    role is restricted."""
    restricted_ids = [org.id for org in viewer.organizations if org.restricted]
    if not restricted_ids:
        return search_q(text)
    return (Q(organization_id__in=restricted_ids) & masked_search_q(text)) | (
        ~Q(organization_id__in=restricted_ids) & search_q(text)
    )


def _ids_q(text: str) -> Q:
    return (
        Q(transaction_id__iexact=text)
        | Q(call_record_id__iexact=text)
        | Q(external_unique_id__iexact=text)
    )


def _ids_or_custom_q(text: str) -> Q:
    return _ids_q(text) | Q(custom_data__icontains=text)
