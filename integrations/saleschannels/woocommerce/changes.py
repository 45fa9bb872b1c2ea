"""WooCommerce's everyday sync: a price or stock change goes in the products batch with that
field alone (docs/architecture.md, "Everyday sync"); content and photos go as a resync sends
them."""

from functools import partial

from integrations.saleschannels.woocommerce.adapter import (
    BATCH_MAX_ITEMS,
    WooCommerceAdapter,
    product_update,
)
from integrations.shopconnect.base import OfferResult, OfferToSend
from integrations.shopconnect.changes import CONTENT_GROUPS, send_jobs
from integrations.shopconnect.common import OfferSnapshot

# What each group sets in the update product_update builds.
UPDATE_KEYS = {
    "price": {"regular_price"},
    "stock": {"manage_stock", "stock_quantity", "stock_status"},
}


def send_changes(
    adapter: WooCommerceAdapter, groups: frozenset[str], items: list[OfferToSend], deadline
) -> list[OfferResult]:
    if groups & CONTENT_GROUPS:
        return adapter.send_by_flags(groups, items, deadline=deadline)
    update = partial(narrowed_update, groups)

    def jobs(snapshots: list[OfferSnapshot]):
        return [
            ([s.offer_id for s in batch], partial(adapter.send_batch, batch, update))
            for batch in (
                snapshots[start : start + BATCH_MAX_ITEMS]
                for start in range(0, len(snapshots), BATCH_MAX_ITEMS)
            )
        ]

    return send_jobs(adapter, items, deadline, jobs)


def narrowed_update(groups: frozenset[str], snap: OfferSnapshot) -> dict:
    wanted = {"id"} | {key for group in groups for key in UPDATE_KEYS.get(group, ())}
    return {key: value for key, value in product_update(snap).items() if key in wanted}
