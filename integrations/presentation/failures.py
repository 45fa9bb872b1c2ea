"""Reads of a run's failed offers: grouped by reason, one keyset page, and all of them for CSV.

Pages go by offer id after a cursor (never OFFSET), so the last page of 500,000 failures costs
what the first one does. The channel's own words (code and message) are kept as they came.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

from django.db.models import Count

from integrations.models import ResyncFailure, ResyncRun
from integrations.presentation.csv_export import csv_lines

PAGE_SIZE = 50
GROUPS_SHOWN = 25


@dataclass(frozen=True)
class FailureGroup:
    code: str
    message: str
    count: int

    def as_filter(self) -> dict:
        return {"code": self.code, "message": self.message}


def failure_groups(run: ResyncRun, limit: int = GROUPS_SHOWN) -> list[FailureGroup]:
    """The reasons the channel gave, most frequent first."""
    rows = (
        ResyncFailure.objects.filter(run=run)
        .values("code", "message")
        .annotate(count=Count("pk"))
        .order_by("-count", "code", "message")[:limit]
    )
    return [FailureGroup(r["code"], r["message"], r["count"]) for r in rows]


def failures_of(run: ResyncRun, group: dict | None = None):
    failures = ResyncFailure.objects.filter(run=run)
    if group:
        failures = failures.filter(code=group.get("code", ""), message=group.get("message", ""))
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
    return csv_lines(chain([CSV_HEADER], rows.iterator(chunk_size=2000)))
