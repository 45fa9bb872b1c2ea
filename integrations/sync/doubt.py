"""Sends in doubt: each change once after a kill -9 (docs/architecture.md, "Everyday sync").

A round marks its rows `in_flight` (durably, before any request) and clears the mark as each
answer is recorded — at once, per answer (dispatch.py). A row claimed with the mark still set
was left by a round that died (kill -9, a crash) between its request and the record of the
answer: the request may have reached the channel. Before sending it again, the round READS
the listing (`ChannelAdapter.read_current`: Allegro's GET /sale/product-offers/{id},
WooCommerce's GET /products/{id}, Amazon's Listings Items GET): a data group whose value the
channel already holds is confirmed without a request; the others go. A channel that cannot
read one listing (Zalando) sends again: at least once, never lost.

Only the value read now counts (the offer as read after the claim), never what the dead round
meant to send: newest wins holds (a newer change is a newer version, still pending).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from integrations.engine.comparing import same
from integrations.shopconnect import budgets
from integrations.shopconnect.base import (
    ChannelAuthError,
    NoListing,
    OfferKeys,
    OfferResult,
    OfferToSend,
)
from integrations.shopconnect.errors import ChannelUnavailable, Held
from offers.models import DataGroup, PendingChange

logger = logging.getLogger("integrations.sync")

# What a read must show, in expected_listing's terms, for a group to count as held. Photos:
# a count read back is no proof of which photos — a photos row in doubt goes again.
GROUP_FIELDS = {
    DataGroup.STOCK: ("stock",),
    DataGroup.PRICE: ("price", "currency"),
    DataGroup.CONTENT: ("name", "description", "parameters"),
}


def mark_in_flight(token: str, plans: list) -> None:
    """Durably, before any request: these rows' sends may reach the channel unrecorded. Each
    row object keeps whether it was in doubt before (restored when its send is deferred)."""
    pks = [r.pk for p in plans for r in p.rows]
    for start in range(0, len(pks), 500):
        PendingChange.objects.filter(pk__in=pks[start : start + 500], claimed_by=token).update(
            in_flight=True
        )


def holds(group: str, expected: dict, listing: dict) -> bool:
    """The listing as read holds what `expected` (the offer now) sets for `group`: every field
    of the group that we send was read and is the same."""
    fields = [f for f in GROUP_FIELDS.get(group, ()) if f in expected]
    return bool(fields) and all(f in listing and same(f, expected[f], listing[f]) for f in fields)


def settle(adapter, plans: list, priority_of) -> tuple[list, list, int]:
    """Read the listings of the plans with rows in doubt: (plans that go, plans the channel
    holds already — each with the rows it holds, recorded as confirmed without a request,
    listings read). A row whose listing was read is no longer in doubt (`row.in_flight`
    False: it goes, or is held); one that could not be read stays in doubt."""
    doubtful = [p for p in plans if any(r.in_flight for r in p.rows)]
    if not doubtful:
        return plans, [], 0
    keys = {}
    for planned in doubtful:
        try:
            keys[planned.offer.pk] = adapter.listing_key(OfferKeys.of(planned.link))
        except NoListing:
            continue
    priority = min(priority_of(r.group) for p in doubtful for r in p.rows if r.in_flight)
    try:
        with budgets.spending_as(priority):
            reads = adapter.read_current(
                sorted(set(keys.values())),
                deadline=time.monotonic() + settings.SYNC_SEND_SECONDS,
            )
    except (Held, ChannelUnavailable, ChannelAuthError) as exc:
        logger.info("integration %s: sends in doubt not read (%s)", adapter.integration.pk, exc)
        reads = None
    if reads is None:  # the channel cannot tell: they go again (at least once)
        return plans, [], 0
    going, held = [], []
    in_doubt = {id(p) for p in doubtful}
    for planned in plans:
        listing = reads.found.get(keys.get(planned.offer.pk, ""))
        if id(planned) not in in_doubt or listing is None:
            going.append(planned)
            continue
        item = OfferToSend(offer=planned.offer, link=planned.link, send_photos=False)
        expected = adapter.expected_listing(item)
        there = [r for r in planned.rows if r.in_flight and holds(r.group, expected, listing)]
        for row in planned.rows:
            row.in_flight = False  # read: the channel holds it, or it goes now
        rest = [r for r in planned.rows if r not in there]
        if there:
            held.append(planned.part(there))
        if rest:
            going.append(planned.part(rest))
    return going, held, len(reads.found)


def confirmed_by_read(plans: list) -> list[OfferResult]:
    """The results a round records for the plans the channel held already."""
    return [OfferResult(p.offer.pk, ok=True, attempts=0) for p in plans]
