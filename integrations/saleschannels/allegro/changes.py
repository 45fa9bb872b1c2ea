"""Allegro's everyday sync: a price or stock change is a PATCH of that field alone
(docs/architecture.md, "Everyday sync"); content and photos go as a resync sends them."""

from functools import partial

from integrations.saleschannels.allegro.adapter import AllegroAdapter, offer_body
from integrations.shopconnect.changes import sender
from integrations.shopconnect.common import OfferSnapshot

# What each group sets in the PATCH body offer_body builds.
BODY_KEYS = {"price": "sellingMode", "stock": "stock"}


def jobs(adapter: AllegroAdapter, groups: frozenset[str], snapshots: list[OfferSnapshot]):
    if snapshots:
        adapter.prepare()  # the seller's budgets are keyed by the seller
    return [([s.offer_id], partial(patch_groups, adapter, s, groups)) for s in snapshots]


def patch_groups(adapter: AllegroAdapter, snap: OfferSnapshot, groups: frozenset[str]):
    body, _warning = offer_body(snap, None)
    wanted = {BODY_KEYS[group] for group in groups if group in BODY_KEYS}
    body = {key: value for key, value in body.items() if key in wanted}
    return [adapter.edit_offer(snap, body, photos_sent=False, warning="")]


send_changes = sender(jobs)
