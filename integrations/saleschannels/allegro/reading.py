"""Reading Allegro back (a drift check, engine/drift_check.py): `GET /sale/offers` lists 1,000
offers a page with name, price, stock and `external.id` (the application's budget only);
description, parameters and the photo count need `GET /sale/product-offers/{id}`, which also
spends the seller's 3,500 reads/min (docs/channels/allegro.md)."""

from __future__ import annotations

from urllib.parse import quote

from integrations.saleschannels.allegro.commands import MEDIA_TYPE, allegro_errors
from integrations.saleschannels.allegro.mapping import (
    allegro_description,
    allegro_name,
    allegro_parameters,
)
from integrations.shopconnect.base import ListingReads, ListingsPage, OfferToSend
from integrations.shopconnect.bounded import read_amount, read_count
from integrations.shopconnect.common import json_or_empty, snapshot
from integrations.shopconnect.errors import ChannelUnavailable
from integrations.wording import Reason

LISTING_PAGE = 1_000  # GET /sale/offers: at most 1,000 a page

NOT_LISTED = Reason("Allegro did not list the offers: %(message)s")


def listing_fields(data: dict) -> dict:
    """An offer as GET /sale/offers (or a full GET) gives it, in expected_listing's terms.

    What the channel leaves out stays out: absent is not "different".
    """
    out: dict = {}
    if isinstance(data.get("name"), str):
        out["name"] = data["name"]
    selling = data.get("sellingMode") if isinstance(data.get("sellingMode"), dict) else {}
    price = selling.get("price") if isinstance(selling.get("price"), dict) else {}
    read_amount(out, "price", price.get("amount"))
    if isinstance(price.get("currency"), str):
        out["currency"] = price["currency"]
    stock = data.get("stock") if isinstance(data.get("stock"), dict) else {}
    if isinstance(stock.get("available"), int) and not isinstance(stock["available"], bool):
        read_count(out, "stock", stock["available"])
    external = data.get("external") if isinstance(data.get("external"), dict) else {}
    if external.get("id") is not None:
        out["external_id"] = str(external["id"])
    return out


def full_offer_fields(data: dict) -> dict:
    """A whole offer (GET /sale/product-offers/{id}): the listing's fields, plus the
    description (its TEXT items, joined), parameters by name and the photo count."""
    out = listing_fields(data)
    description = data.get("description")
    if isinstance(description, dict):
        texts = []
        for section in description.get("sections") or []:
            for item in (section or {}).get("items") or [] if isinstance(section, dict) else []:
                if isinstance(item, dict) and item.get("type") == "TEXT":
                    texts.append(str(item.get("content") or ""))
        out["description"] = "".join(texts)
    parameters = data.get("parameters")
    if isinstance(parameters, list):
        out["parameters"] = {
            str(p["name"]): [str(v) for v in p.get("values") or []]
            for p in parameters
            if isinstance(p, dict) and p.get("name")
        }
    images = data.get("images")
    if isinstance(images, list):
        out["photos"] = len(images)
    return out


class AllegroReading:
    """The drift-check hooks of the adapter contract (base.ChannelAdapter), for Allegro."""

    def expected_listing(self, item: OfferToSend) -> dict:
        snap = snapshot(item)
        expected = {
            "name": allegro_name(snap.name)[0],
            "price": snap.price_text,
            "currency": snap.currency,
            "stock": snap.stock,
            "parameters": {p["name"]: p["values"] for p in allegro_parameters(snap.parameters)},
            "external_id": snap.sku,
        }
        # What a resync leaves out, the listing keeps as it is: nothing to compare.
        description = allegro_description(snap.description)
        if description:
            expected["description"] = description
        if snap.photos:
            expected["photos"] = len(snap.photos)
        return expected

    def _begin_reads(self, deadline) -> None:
        self.check_credentials()
        self.prepare()
        self.client.start_chunk(deadline)

    def read_listings(self, offset: int, *, deadline: float | None = None) -> ListingsPage:
        self._begin_reads(deadline)
        try:
            response = self.client.request(
                "GET",
                f"{self.api_url}/sale/offers",
                spend={"app": 1, "integration": 1},
                headers={"Accept": MEDIA_TYPE, "Accept-Language": "pl-PL"},
                params={"offset": offset, "limit": LISTING_PAGE},
            )
        finally:
            self.store_new_credentials()
        data = json_or_empty(response)
        offers = data.get("offers") if isinstance(data, dict) else None
        if response.status_code != 200 or not isinstance(offers, list):
            code, message = allegro_errors(response)
            raise ChannelUnavailable(
                NOT_LISTED(message=message),
                http_status=response.status_code,
                attempts=response.attempts,
                code=code or "list_refused",
            )
        listings = {
            str(o["id"]): listing_fields(o) for o in offers if isinstance(o, dict) and o.get("id")
        }
        total = data.get("totalCount")
        total = total if isinstance(total, int) and not isinstance(total, bool) else None
        end = offset + len(offers)
        more = len(offers) == LISTING_PAGE and (total is None or end < total)
        return ListingsPage(listings=listings, total=total, next_offset=end if more else None)

    def read_full(self, listing_ids: list[str], *, deadline: float | None = None) -> ListingReads:
        if not listing_ids:
            return ListingReads()
        self._begin_reads(deadline)
        return self.read_each(listing_ids, self._read_one, full_offer_fields, allegro_errors)

    def read_current(
        self, listing_ids: list[str], *, deadline: float | None = None
    ) -> ListingReads:
        """A send in doubt (everyday sync): each listing whole, by the same GET."""
        return self.read_full(listing_ids, deadline=deadline)

    def _read_one(self, listing_id: str):
        return self.client.request(
            "GET",
            f"{self.api_url}/sale/product-offers/{quote(listing_id, safe='')}",
            spend={"app": 1, "reads": 1, "integration": 1},
            headers={"Accept": MEDIA_TYPE, "Accept-Language": "pl-PL"},
        )
