"""Amazon's everyday sync: a price or stock change is a Listings Items PATCH of that attribute
alone (docs/architecture.md, "Everyday sync"); content and photos go as a resync sends them."""

from functools import partial

from integrations.saleschannels.amazon.adapter import AmazonAdapter
from integrations.saleschannels.amazon.mapping import Marketplace, patches
from integrations.shopconnect.base import OfferResult, OfferToSend
from integrations.shopconnect.changes import CONTENT_GROUPS, send_jobs
from integrations.shopconnect.common import OfferSnapshot

# The attribute each group sets, as `patches` names it.
ATTRIBUTE_PATHS = {
    "price": "/attributes/purchasable_offer",
    "stock": "/attributes/fulfillment_availability",
}


def send_changes(
    adapter: AmazonAdapter, groups: frozenset[str], items: list[OfferToSend], deadline
) -> list[OfferResult]:
    if groups & CONTENT_GROUPS:
        return adapter.send_by_flags(groups, items, deadline=deadline)
    operations = partial(narrowed_patches, groups)

    def jobs(snapshots: list[OfferSnapshot]):
        place = adapter.place
        return [
            ([s.offer_id], partial(adapter.patch_listing, s, place, operations)) for s in snapshots
        ]

    return send_jobs(adapter, items, deadline, jobs)


def narrowed_patches(groups: frozenset[str], snap: OfferSnapshot, place: Marketplace) -> list:
    wanted = {ATTRIBUTE_PATHS[group] for group in groups if group in ATTRIBUTE_PATHS}
    return [op for op in patches(snap, place) if op["path"] in wanted]
