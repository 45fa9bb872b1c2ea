"""Reads of a run's failed offers: grouped by reason, one keyset page, and all of them for CSV.

Pages go by offer id after a cursor (never OFFSET), so the last page of 500,000 failures costs
what the first one does. The channel's own words (code and message) are kept as they came for
each offer (the list, the CSV); groups go by the channel's code and the message with ids and
numbers taken out (`ResyncFailure.reason`, models.failure_reason), so "Offer 7000000005 not
found" is one reason, not one per offer. Each group says what the seller can do about it, for the
codes we know.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

from django.db.models import Count, Max, Q
from django.utils.translation import gettext_lazy as _

from integrations.models import ResyncFailure, ResyncRun
from integrations.presentation.csv_export import csv_lines
from integrations.wording import worded

PAGE_SIZE = 50
GROUPS_SHOWN = 25

# What a seller can do, by the channel's code (lower case) or, for codes we do not know, by the
# HTTP status. Kept short: the channel's own message says the detail.
# The external ID is edited on the offer's page (each SKU in a failure list links to it).
_RELINK = _(
    "The offer is not linked to its listing on the channel: open the offer (its SKU), enter "
    "the listing's id as the external ID in the channel's row, save, then retry."
)
_NOT_FOUND = _(
    "The channel has no listing under the offer's external ID (it was ended or removed, or "
    "the id is wrong): list the offer again on the channel, open the offer (its SKU), enter "
    "the listing's id as the external ID in the channel's row, save, then retry."
)
_CONTENT = _(
    "The channel refused the offer's content: correct the offer as the message says, then retry."
)
_UNAVAILABLE = _(
    "The channel did not answer in time. Nothing to correct on the offers: retry later."
)
_HOST = _(
    "xSale could not reach the channel at the address in the integration's settings, or "
    "something that is not the channel's API answered there: check the API URL (and the "
    "login URL) in the integration's settings, then retry."
)
_AUTH = _(
    "The channel refused xSale's credentials: renew them in the integration's settings, then retry."
)
_BUSY = _("The listing was being changed elsewhere at the same moment: retry.")
_PHOTO = _("A photo of the offer could not be read or was refused: replace it, then retry.")
_EAN = _("The channel needs the offer's EAN: add it to the offer, then retry.")
_DUPLICATE = _(
    "Another offer is linked to the same listing: open each offer (its SKU) and give it its "
    "own listing's id as the external ID in the channel's row."
)
ADVICE_BY_CODE = {
    "missing_external_id": _RELINK,
    "invalid_external_id": _RELINK,
    "not_found": _NOT_FOUND,
    "woocommerce_rest_product_invalid_id": _NOT_FOUND,
    "validation": _CONTENT,
    "validation_error": _CONTENT,
    "channel_unavailable": _UNAVAILABLE,
    "host_unreachable": _HOST,
    "unexpected_answer": _HOST,
    "no_result": _UNAVAILABLE,
    "internal_error": _UNAVAILABLE,
    "unauthorized": _AUTH,
    "auth": _AUTH,
    "access_denied": _AUTH,
    "forbidden": _AUTH,
    "photo_missing": _PHOTO,
    "photo_refused": _PHOTO,
    "missing_ean": _EAN,
    "duplicate_listing": _DUPLICATE,
}
ADVICE_BY_STATUS = {
    400: _CONTENT,
    401: _AUTH,
    403: _AUTH,
    404: _NOT_FOUND,
    409: _BUSY,
    422: _CONTENT,
    429: _UNAVAILABLE,
}
# A retry of these fails again until the offer changes (the channel refused what we sent).
CONTENT_STATUSES = frozenset({400, 422})
CONTENT_CODES = frozenset({"validation", "validation_error", "missing_ean"})


def advice_for(code: str, http_status: int | None) -> str:
    """What to do about a failure, in the seller's language; "" when we do not know."""
    advice = ADVICE_BY_CODE.get((code or "").lower())
    if advice is None and http_status is not None:
        advice = ADVICE_BY_STATUS.get(http_status) or (_UNAVAILABLE if http_status >= 500 else None)
    return str(advice or "")


def is_content_reason(code: str, http_status: int | None) -> bool:
    return http_status in CONTENT_STATUSES or (code or "").lower() in CONTENT_CODES


@dataclass(frozen=True)
class FailureGroup:
    code: str
    message: str  # the channel's message with ids and numbers taken out (the group's reason)
    count: int
    http_status: int | None = None

    def as_filter(self) -> dict:
        return {"code": self.code, "reason": self.message}

    @property
    def advice(self) -> str:
        return advice_for(self.code, self.http_status)

    @property
    def fails_again(self) -> bool:
        """A retry of this group fails again until the offers' content changes."""
        return is_content_reason(self.code, self.http_status)


def content_failure_count(run: ResyncRun, group: dict | None = None) -> int:
    """The run's failures (or a group's) a plain retry would repeat: the channel refused the
    content."""
    return (
        failures_of(run, group)
        .filter(Q(http_status__in=CONTENT_STATUSES) | Q(code__in=CONTENT_CODES))
        .count()
    )


def failure_groups(run: ResyncRun, limit: int = GROUPS_SHOWN) -> list[FailureGroup]:
    """The reasons the channel gave, most frequent first."""
    rows = (
        ResyncFailure.objects.filter(run=run)
        .values("code", "reason")
        .annotate(count=Count("pk"), http_status=Max("http_status"))
        .order_by("-count", "code", "reason")[:limit]
    )
    return [FailureGroup(r["code"], r["reason"], r["count"], r["http_status"]) for r in rows]


def failures_of(run: ResyncRun, group: dict | None = None):
    failures = ResyncFailure.objects.filter(run=run)
    if group:
        failures = failures.in_group(group)
    return failures


def failure_page(run: ResyncRun, *, after: int = 0, group: dict | None = None, size=PAGE_SIZE):
    """One page by offer id after `after`: (failures with their offers, next cursor or None)."""
    rows = list(
        failures_of(run, group)
        .filter(offer_id__gt=after)
        .select_related("offer")
        .order_by("offer_id")[: size + 1]
    )
    next_after = rows[size - 1].offer_id if len(rows) > size else None
    return rows[:size], next_after


CSV_HEADER = ("sku", "name", "http_status", "code", "message", "attempts")


def failures_csv(run: ResyncRun, group: dict | None = None) -> Iterator[str]:
    """Every failure of the run as CSV lines, read in batches: for a streamed download (the
    format and its formula guard: presentation/csv_export.py)."""
    rows = (
        failures_of(run, group)
        .order_by("offer_id")
        .values_list("offer__sku", "offer__name", "http_status", "code", "message", "attempts")
    )
    # Our own reasons in the reader's language; the channel's own words stay as they came.
    worded_rows = ((*row[:4], worded(row[4]), *row[5:]) for row in rows.iterator(chunk_size=2000))
    return csv_lines(chain([CSV_HEADER], worded_rows))
