"""Amazon's everyday sync: a price or stock change is a Listings Items PATCH of that attribute
alone (docs/architecture.md, "Everyday sync"); content and photos go as a resync sends them."""

from functools import partial

from integrations.saleschannels.amazon.adapter import AmazonAdapter
from integrations.saleschannels.amazon.mapping import Marketplace, patches
from integrations.shopconnect.changes import sender
from integrations.shopconnect.common import OfferSnapshot

# The attribute each group sets, as `patches` names it.
ATTRIBUTE_PATHS = {
    "price": "/attributes/purchasable_offer",
    "stock": "/attributes/fulfillment_availability",
}


def jobs(adapter: AmazonAdapter, groups: frozenset[str], snapshots: list[OfferSnapshot]):
    place, operations = adapter.place, partial(narrowed_patches, groups)
    return [([s.offer_id], partial(adapter.patch_listing, s, place, operations)) for s in snapshots]


def narrowed_patches(groups: frozenset[str], snap: OfferSnapshot, place: Marketplace) -> list:
    wanted = {ATTRIBUTE_PATHS[group] for group in groups if group in ATTRIBUTE_PATHS}
    return [op for op in patches(snap, place) if op["path"] in wanted]


send_changes = sender(jobs)
