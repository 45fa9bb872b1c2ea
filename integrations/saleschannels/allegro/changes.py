"""Allegro's everyday sync: a price or stock change is a PATCH of that field alone
(docs/architecture.md, "Everyday sync"); content and photos go as a resync sends them."""

from functools import partial

from integrations.saleschannels.allegro.adapter import AllegroAdapter, offer_body
from integrations.shopconnect.base import OfferResult, OfferToSend
from integrations.shopconnect.changes import CONTENT_GROUPS, send_jobs
from integrations.shopconnect.common import OfferSnapshot

# What each group sets in the PATCH body offer_body builds.
BODY_KEYS = {"price": "sellingMode", "stock": "stock"}


def send_changes(
    adapter: AllegroAdapter, groups: frozenset[str], items: list[OfferToSend], deadline
) -> list[OfferResult]:
    if groups & CONTENT_GROUPS:
        return adapter.send_by_flags(groups, items, deadline=deadline)

    def jobs(snapshots: list[OfferSnapshot]):
        if snapshots:
            adapter.prepare()  # the seller's budgets are keyed by the seller
        return [([s.offer_id], partial(patch_groups, adapter, s, groups)) for s in snapshots]

    return send_jobs(adapter, items, deadline, jobs)


def patch_groups(adapter: AllegroAdapter, snap: OfferSnapshot, groups: frozenset[str]):
    body, _warning = offer_body(snap, None)
    wanted = {BODY_KEYS[group] for group in groups if group in BODY_KEYS}
    body = {key: value for key, value in body.items() if key in wanted}
    return [adapter.edit_offer(snap, body, photos_sent=False, warning="")]
