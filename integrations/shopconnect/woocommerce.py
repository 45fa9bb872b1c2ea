"""WooCommerce: `POST /wp-json/wc/v3/products/batch`, up to 100 product updates per request.

Mapping (shared/reference/CHANNELS.md):
- `id` is the shop's product id (`OfferChannel.external_id`, a positive integer; anything else
  fails the offer without a request); `name`, `sku`, `description` (HTML) as they are;
  `regular_price` a string with two decimals; `manage_stock: true` with `stock_quantity` and
  `stock_status` (instock / outofstock) so the shop counts stock itself.
- `attributes`: one per parameter name (`visible`, not a `variation`), its values as `options`.
- `images` only when the engine decided photos go (the photo set changed since the site
  journal's hash): `[{"src": absolute URL on SITE_URL, "alt": offer name}]` in photo order —
  the shop downloads each `src`, and sending `images` replaces the gallery, so an offer whose
  photos were all removed sends `[]` and the shop's gallery is emptied too.
- The shop answers 200 with one entry per update; an entry with `error` fails its offer with the
  shop's code and message. A whole-batch error fails every offer of the batch.
- Auth: HTTP Basic consumer key and secret in the header (never in the URL); WooCommerce
  accepts it over HTTPS only, so a real shop's `api_url` must be https. No token to refresh: a
  401 means the keys are wrong (ChannelAuthError).

Reading back (a drift check): `GET /wp-json/wc/v3/products?per_page=100&orderby=id&order=asc`
gives whole products, 100 a page (one request of the shop's budget each): name, description,
regular price, stock, attributes and images — everything a resync sends, so no product is read
on its own. Ids ascending: listings added while the check reads go at the end, none is skipped.
The shop's currency is the shop's setting, not a product's: it is not compared.

Budget: WooCommerce publishes no limit; the shop's budget (keyed by the shop's address, shared
by every integration pointing at it) is the integration's requests per minute (default 60),
and `max_in_flight` batches at most go at once, to stay gentle with shared hosting.
"""

from __future__ import annotations

from functools import partial

from integrations.shopconnect.base import ListingsPage, OfferResult, OfferToSend
from integrations.shopconnect.bounded import UNREADABLE, read_amount, read_count
from integrations.shopconnect.common import (
    HttpChannelAdapter,
    OfferSnapshot,
    duplicates_failed,
    failed,
    json_or_empty,
    snapshot,
    snapshot_with_photo_urls,
)
from integrations.shopconnect.http import ChannelUnavailable

BATCH_MAX_ITEMS = 100


def woo_attributes(parameters: list[tuple[str, str]]) -> list[dict]:
    by_name: dict[str, list[str]] = {}
    for name, value in parameters:
        by_name.setdefault(name, []).append(value)
    return [
        {"name": name, "position": position, "visible": True, "variation": False, "options": values}
        for position, (name, values) in enumerate(by_name.items())
    ]


def product_update(snap: OfferSnapshot) -> dict:
    """One product's update: content, prices and stock, or both, as the run chose."""
    update: dict = {"id": int(snap.external_id)}
    if snap.send_content:
        update.update(
            {
                "name": snap.name,
                "sku": snap.sku,
                "description": snap.description,
                "attributes": woo_attributes(snap.parameters),
            }
        )
    if snap.send_prices_stock:
        update.update(
            {
                "regular_price": snap.price_text,
                "manage_stock": True,
                "stock_quantity": snap.stock,
                "stock_status": "instock" if snap.stock > 0 else "outofstock",
            }
        )
    if snap.send_photos:
        update["images"] = [{"src": photo.url, "alt": snap.name} for photo in snap.photos]
    return update


def woo_error(data) -> tuple[str, str, int | None]:
    """(code, message, status) from WooCommerce's `{"code", "message", "data": {"status"}}`."""
    if not isinstance(data, dict):
        return "", "", None
    status = (data.get("data") or {}).get("status") if isinstance(data.get("data"), dict) else None
    return str(data.get("code") or ""), str(data.get("message") or ""), status


def is_anonymous(entry) -> bool:
    return isinstance(entry, dict) and entry.get("id") in (0, "0", None)


def is_product_id(value: str) -> bool:
    return value.isdigit() and int(value) > 0


def product_fields(product: dict) -> dict:
    """A product as the shop lists it, in expected_listing's terms (absent stays absent)."""
    out: dict = {}
    for key in ("name", "description"):
        if isinstance(product.get(key), str):
            out[key] = product[key]
    price = product.get("regular_price")
    if isinstance(price, str | int | float) and not isinstance(price, bool) and price != "":
        read_amount(out, "price", price)
        if "price" not in out and UNREADABLE not in out:
            out["price"] = str(price)  # not a number: shown as the shop has it
    quantity = product.get("stock_quantity")
    if isinstance(quantity, int) and not isinstance(quantity, bool):
        read_count(out, "stock", quantity)
    attributes = product.get("attributes")
    if isinstance(attributes, list):
        out["parameters"] = {
            str(a["name"]): [str(v) for v in a.get("options") or []]
            for a in attributes
            if isinstance(a, dict) and a.get("name")
        }
    images = product.get("images")
    if isinstance(images, list):
        out["photos"] = len(images)
    if product.get("sku") not in (None, ""):
        out["external_id"] = str(product["sku"])
    if isinstance(product.get("permalink"), str):
        out["permalink"] = product["permalink"]  # the report's link (an untrusted URL)
    return out


class WooCommerceAdapter(HttpChannelAdapter):
    max_in_flight = 4
    required_credentials = ("consumer_key", "consumer_secret")
    readable_fields = frozenset({"name", "description", "price", "stock", "parameters", "photos"})

    def client_auth(self) -> dict:
        credentials = self.integration.credentials
        return {"basic_auth": (credentials["consumer_key"], credentials["consumer_secret"])}

    def snapshot(self, item: OfferToSend) -> OfferSnapshot:
        return snapshot_with_photo_urls(item)

    @property
    def batch_url(self) -> str:
        return f"{self.integration.api_url.rstrip('/')}/wp-json/wc/v3/products/batch"

    def send_snapshots(self, snapshots: list[OfferSnapshot]) -> list[OfferResult]:
        refused, ready = [], []
        for snap in snapshots:
            if is_product_id(snap.external_id):
                ready.append(snap)
            else:
                refused.append(
                    failed(
                        snap.offer_id,
                        f"The WooCommerce product id (external ID) must be a positive number, "
                        f"got “{snap.external_id}”."
                        if snap.external_id
                        else "The offer has no WooCommerce product id (external ID).",
                        code="invalid_external_id",
                        attempts=0,
                    )
                )
        ready, duplicates = duplicates_failed(
            ready, lambda s: str(int(s.external_id)), "WooCommerce product id"
        )
        jobs = []
        for start in range(0, len(ready), BATCH_MAX_ITEMS):
            batch = ready[start : start + BATCH_MAX_ITEMS]
            jobs.append(([s.offer_id for s in batch], partial(self.send_batch, batch)))
        return refused + duplicates + self.run_parallel(jobs)

    def send_batch(self, batch: list[OfferSnapshot]) -> list[OfferResult]:
        response = self.client.request(
            "POST",
            self.batch_url,
            spend={"shop": 1},
            headers={"Accept": "application/json"},
            json={"update": [product_update(snap) for snap in batch]},
        )
        data = json_or_empty(response)
        entries = data.get("update") if isinstance(data, dict) else None
        if response.status_code != 200 or not isinstance(entries, list):
            code, message, _ = woo_error(data)
            message = message or f"WooCommerce answered {response.status_code} {response.reason}"
            return [
                failed(
                    snap.offer_id,
                    message,
                    http_status=response.status_code,
                    code=code,
                    attempts=response.attempts,
                )
                for snap in batch
            ]
        by_id = {}
        for entry in entries:
            if isinstance(entry, dict) and "id" in entry:
                by_id.setdefault(str(entry["id"]), entry)
        results = []
        for index, snap in enumerate(batch):
            entry = by_id.get(str(int(snap.external_id)))
            # An unknown product may come back with id 0: the answer keeps request order.
            if entry is None and index < len(entries) and is_anonymous(entries[index]):
                entry = entries[index]
            results.append(self.entry_result(snap, entry, response.attempts))
        return results

    def entry_result(self, snap: OfferSnapshot, entry, attempts: int) -> OfferResult:
        if entry is None:
            return failed(
                snap.offer_id,
                "WooCommerce gave no answer for this product.",
                code="no_result",
                attempts=attempts,
            )
        if isinstance(entry.get("error"), dict):
            code, message, status = woo_error(entry["error"])
            return failed(
                snap.offer_id,
                message or code,
                http_status=status or 400,
                code=code,
                attempts=attempts,
            )
        return OfferResult(
            snap.offer_id,
            ok=True,
            photos_sent=snap.send_photos,
            photo_files=len(snap.photos) if snap.send_photos else 0,
            attempts=attempts,
        )

    # --- reading back (a drift check) ----------------------------------------------------

    def expected_listing(self, item: OfferToSend) -> dict:
        snap = snapshot(item)
        return {
            "name": snap.name,
            "description": snap.description,
            "price": snap.price_text,
            "stock": snap.stock,
            "parameters": {a["name"]: a["options"] for a in woo_attributes(snap.parameters)},
            "photos": len(snap.photos),
            "external_id": snap.sku,
        }

    def read_listings(self, offset: int, *, deadline: float | None = None) -> ListingsPage:
        self.check_credentials()
        self.client.start_chunk(deadline)
        page = offset // BATCH_MAX_ITEMS + 1
        response = self.client.request(
            "GET",
            f"{self.integration.api_url.rstrip('/')}/wp-json/wc/v3/products",
            spend={"shop": 1},
            headers={"Accept": "application/json"},
            params={"page": page, "per_page": BATCH_MAX_ITEMS, "orderby": "id", "order": "asc"},
        )
        products = json_or_empty(response)
        if response.status_code != 200 or not isinstance(products, list):
            code, message, _ = woo_error(products)
            raise ChannelUnavailable(
                "WooCommerce did not list the products: "
                + (message or f"{response.status_code} {response.reason}"),
                http_status=response.status_code,
                attempts=response.attempts,
                code=code or "list_refused",
            )
        listings = {
            str(p["id"]): product_fields(p)
            for p in products
            if isinstance(p, dict) and isinstance(p.get("id"), int)
        }
        total = _int_header(response, "X-WP-Total")
        pages = _int_header(response, "X-WP-TotalPages")
        more = len(products) == BATCH_MAX_ITEMS and (pages is None or page < pages)
        # The next page starts where this one would end: pages are fixed-size.
        return ListingsPage(
            listings=listings, total=total, next_offset=page * BATCH_MAX_ITEMS if more else None
        )


def _int_header(response, name: str) -> int | None:
    try:
        return int(response.headers.get(name, ""))
    except ValueError:
        return None
