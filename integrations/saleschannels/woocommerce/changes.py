"""WooCommerce's everyday sync: a price or stock change goes in the products batch with that
field alone (docs/architecture.md, "Everyday sync"); content and photos go as a resync sends
them."""

from functools import partial

from integrations.saleschannels.woocommerce.adapter import (
    BATCH_MAX_ITEMS,
    WooCommerceAdapter,
    product_update,
)
from integrations.shopconnect.changes import sender
from integrations.shopconnect.common import OfferSnapshot

# What each group sets in the update product_update builds.
UPDATE_KEYS = {
    "price": {"regular_price"},
    "stock": {"manage_stock", "stock_quantity", "stock_status"},
}


def jobs(adapter: WooCommerceAdapter, groups: frozenset[str], snapshots: list[OfferSnapshot]):
    update = partial(narrowed_update, groups)
    batches = (
        snapshots[start : start + BATCH_MAX_ITEMS]
        for start in range(0, len(snapshots), BATCH_MAX_ITEMS)
    )
    return [([s.offer_id for s in b], partial(adapter.send_batch, b, update)) for b in batches]


def narrowed_update(groups: frozenset[str], snap: OfferSnapshot) -> dict:
    wanted = {"id"} | {key for group in groups for key in UPDATE_KEYS.get(group, ())}
    return {key: value for key, value in product_update(snap).items() if key in wanted}


send_changes = sender(jobs)
