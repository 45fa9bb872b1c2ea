"""Everyday changes on Mirakl: the same imports as a resync, as asynchronous batches the
dispatcher writes before it sends them (integrations/sync/awaiting.py).

What is due when a call type's window has room goes in ONE import of that type:

- `mirakl:offers` — OF01 in PARTIAL_UPDATE mode with only the changed columns: `sku` and
  `price` when any offer's price changed, `quantity` when any stock changed, `description`
  when any content changed; an offer's cell is empty for a group it does not change, and
  PARTIAL_UPDATE changes only the cells that hold data. Never OF24 (it resets what it is not
  sent), never PRI01 or STO01 (PRI01 deletes the prices it is not sent), never REPLACE.
  (An offer description emptied in the catalogue is not emptied on Mirakl: an empty cell
  leaves it.)
- `mirakl:products` — P41 (every 15 minutes) for content and photos: the product's title,
  description and parameters, with image URLs only for the offers whose photo set changed. A
  product file has image columns or none, so when offers of both kinds are due, those whose
  photos changed go now and the others' content (description included) waits for the next P41
  window.

An offer is confirmed once every import that carried it is reported (OF02/OF03, P42/P44/P47).
"""

from __future__ import annotations

from integrations.saleschannels.mirakl.imports import OFFERS, PAYLOAD, PRODUCTS, photo_files
from integrations.shopconnect.base import BatchPlan
from integrations.shopconnect.common import snapshot

PRICES_STOCK = ("price", "stock")
OFFER_CELLS = (("price", "price"), ("stock", "quantity"), ("content", "description"))


class MiraklEverydayChanges:
    """The adapter's hooks for everyday changes by imports (base.ChannelAdapter)."""

    def change_batch_budgets(self, group: str) -> tuple[str, ...]:
        if group in PRICES_STOCK:
            return ("of01",)
        if group == "content":
            return ("of01", "p41")  # the offer's description by OF01, the product's by P41
        return ("p41",)

    def plan_change_batches(self, changes):
        snaps = {item.offer.pk: snapshot(item, related=False) for __, item in changes}
        ready, refused = self.keyed(list(snaps.values()))
        groups_of = {item.offer.pk: set(groups) for groups, item in changes}
        items = {item.offer.pk: item for __, item in changes}
        with_photos = [s for s in ready if s.send_photos and "photos" in groups_of[s.offer_id]]
        imaged = {s.offer_id for s in with_photos}
        for snap in ready:
            if snap.offer_id not in imaged:
                groups_of[snap.offer_id].discard("photos")
                if imaged:  # one product file: image columns for all its offers or none
                    groups_of[snap.offer_id].discard("content")
        photos = {str(s.offer_id): photo_files(items[s.offer_id]) for s in with_photos}
        products = with_photos or [s for s in ready if "content" in groups_of[s.offer_id]]
        offers = [s for s in ready if groups_of[s.offer_id] & {"price", "stock", "content"}]
        plans = []
        if offers:
            plans.append(self._offers_plan(offers, groups_of, items, photos))
        if products:
            keyed = [(s.listing, items[s.offer_id]) for s in products]
            plans.append(
                self._plan(
                    PRODUCTS,
                    products,
                    {s.offer_id: groups_of[s.offer_id] & {"content", "photos"} for s in products},
                    photos if with_photos else {},
                    self.products_file(keyed, images=bool(with_photos)),
                    images=bool(with_photos),
                )
            )
        return refused, plans

    def _offers_plan(self, offers, groups_of, items, photos):
        """The OF01 PARTIAL_UPDATE file: the changed columns only, an offer's cell empty where
        it does not change that group."""
        changed = set().union(*(groups_of[s.offer_id] for s in offers))
        cells = [(g, c) for g, c in OFFER_CELLS if g in changed]
        rows = []
        for snap in offers:
            offer, groups = items[snap.offer_id].offer, groups_of[snap.offer_id]
            values = {
                "price": f"{offer.price:.2f}",
                "stock": str(max(int(offer.stock), 0)),
                "content": offer.description or "",
            }
            rows.append([snap.listing, *(values[g] if g in groups else "" for g, __ in cells)])
        payload = {"mode": "PARTIAL_UPDATE", "header": ["sku", *(c for __, c in cells)],
                   "rows": rows}  # fmt: skip
        carries = {
            s.offer_id: groups_of[s.offer_id] & {"price", "stock", "content"} for s in offers
        }
        return self._plan(OFFERS, offers, carries, photos, payload)

    @staticmethod
    def _plan(operation, snaps, carries, photos, payload, **more):
        kept = {str(s.offer_id) for s in snaps}
        return BatchPlan(
            operation=operation,
            offer_ids=[s.offer_id for s in snaps],
            changes={
                "send_content": any("content" in g for g in carries.values()),
                "send_prices_stock": any(g & {"price", "stock"} for g in carries.values()),
                "keys": [s.listing for s in snaps],
                "photos_sent": {k: v for k, v in photos.items() if k in kept},
                "carries": {str(o): sorted(g) for o, g in carries.items()},
                PAYLOAD: payload,
                **more,
            },
        )
