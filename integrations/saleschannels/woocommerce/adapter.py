"""WooCommerce: `POST /wp-json/wc/v3/products/batch`, up to 100 product updates per request.

Mapping (docs/channels/woocommerce.md):
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
from urllib.parse import quote

from django.utils.translation import gettext as _

from integrations.shopconnect import connection
from integrations.shopconnect.base import (
    ConnectionCheck,
    ListingReads,
    ListingsPage,
    NoListing,
    OfferResult,
    OfferToSend,
)
from integrations.shopconnect.bounded import UNREADABLE, read_amount, read_count
from integrations.shopconnect.common import (
    HttpChannelAdapter,
    OfferSnapshot,
    failed,
    json_or_empty,
    snapshot,
    snapshot_with_photo_urls,
)
from integrations.shopconnect.errors import ChannelUnavailable
from integrations.wording import Reason

BATCH_MAX_ITEMS = 100

PRODUCT_ID_NOT_A_NUMBER = Reason(
    "The WooCommerce product id (external ID) must be a positive number, got “%(id)s”."
)
NO_PRODUCT_ID = Reason("The offer has no WooCommerce product id (external ID).")
ANSWERED = Reason("WooCommerce answered %(status)s %(reason)s")
NO_ANSWER_FOR_PRODUCT = Reason("WooCommerce gave no answer for this product.")
NOT_LISTED = Reason("WooCommerce did not list the products: %(message)s")


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
    update: dict = {"id": int(snap.listing)}
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
    # ASCII digits only: "²" is a digit to str.isdigit (and int() refuses it), "٣" is 3 to int().
    return value.isascii() and value.isdigit() and int(value) > 0


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
    changes_request_budgets = ("shop",)  # 60 requests a minute unless the seller set more
    readable_fields = frozenset({"name", "description", "price", "stock", "parameters", "photos"})

    def client_auth(self) -> dict:
        credentials = self.integration.credentials
        return {"basic_auth": (credentials["consumer_key"], credentials["consumer_secret"])}

    def snapshot(self, item: OfferToSend) -> OfferSnapshot:
        return snapshot_with_photo_urls(item)

    # --- "Testuj połączenie" (shopconnect/connection.py) ---------------------------------

    def connection_url_hint(self) -> str:
        return _("the shop's address, such as https://sklep.example.pl (without /wp-json)")

    def credentials_refused(self):
        return connection.failed(
            connection.Problem.CREDENTIALS,
            _("The shop refused the consumer key and secret."),
            _(
                "In the shop's WordPress: WooCommerce → Settings → Advanced → REST API, create "
                "a key with Read/Write permission and copy both the consumer key and the "
                "consumer secret here; save and test again."
            ),
        )

    def probe_connection(self, probe) -> ConnectionCheck:
        """`GET /wp-json/wc/v3/products?per_page=1` (the keys may read products), then an
        empty `POST /products/batch`: it changes nothing, and WooCommerce refuses it with 401
        when the key has only Read permission — which a resync needs to write."""
        base = f"{self.integration.api_url.rstrip('/')}/wp-json/wc/v3"
        response = probe.request(
            "GET",
            f"{base}/products",
            spend={"shop": 1},
            headers={"Accept": "application/json"},
            params={"per_page": 1},
        )
        products = json_or_empty(response)
        if response.status_code == 403:
            raise self.not_permitted()
        if response.status_code != 200 or not isinstance(products, list):
            raise probe.unexpected(response)
        total = _int_header(response, "X-WP-Total")
        read_only = connection.failed(
            connection.Problem.PERMISSIONS,
            _("The shop's key may read products but not change them (Read permission only)."),
            _(
                "In WooCommerce → Settings → Advanced → REST API, set the key's permission to "
                "Read/Write (or create a new Read/Write key and copy it here); save and test "
                "again."
            ),
        )
        response = probe.request(
            "POST",
            f"{base}/products/batch",
            spend={"shop": 1},
            headers={"Accept": "application/json"},
            json={},
            refused=read_only,
        )
        if response.status_code == 403:
            raise self.not_permitted()
        if response.status_code != 200:
            raise probe.unexpected(response)
        facts = []
        if total is not None:
            facts.append(_("Products in the shop: %(count)s.") % {"count": total})
        return ConnectionCheck(
            ok=True,
            summary=_("The shop accepted the keys, with Read/Write permission."),
            facts=facts,
        )

    def not_permitted(self):
        return connection.failed(
            connection.Problem.PERMISSIONS,
            _("The shop accepted the keys but refused access to products (403)."),
            _(
                "The key's WordPress user must be allowed to manage products (a Shop manager "
                "or an Administrator): create the key for such a user, save and test again."
            ),
        )

    @property
    def batch_url(self) -> str:
        return f"{self.integration.api_url.rstrip('/')}/wp-json/wc/v3/products/batch"

    def listing_key(self, offer) -> str:
        """The shop's product id: the link's external ID, a positive number (as the shop
        writes it: without leading zeros)."""
        external = offer.external_id
        if is_product_id(external):
            return str(int(external))
        if external:
            raise NoListing(PRODUCT_ID_NOT_A_NUMBER(id=external), "invalid_external_id")
        raise NoListing(NO_PRODUCT_ID(), "missing_external_id")

    def send_snapshots(self, snapshots: list[OfferSnapshot]) -> list[OfferResult]:
        jobs = []
        for start in range(0, len(snapshots), BATCH_MAX_ITEMS):
            batch = snapshots[start : start + BATCH_MAX_ITEMS]
            jobs.append(([s.offer_id for s in batch], partial(self.send_batch, batch)))
        return self.run_parallel(jobs)

    def send_batch(self, batch: list[OfferSnapshot], update=product_update) -> list[OfferResult]:
        """One batch request; `update(snap)` builds each product's update (everyday sync
        narrows it to the changed fields: saleschannels/woocommerce/changes.py)."""
        response = self.client.request(
            "POST",
            self.batch_url,
            spend={"shop": 1},
            headers={"Accept": "application/json"},
            json={"update": [update(snap) for snap in batch]},
        )
        data = json_or_empty(response)
        entries = data.get("update") if isinstance(data, dict) else None
        if response.status_code != 200 or not isinstance(entries, list):
            code, message, _ = woo_error(data)
            message = message or ANSWERED(status=response.status_code, reason=response.reason)
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
            entry = by_id.get(snap.listing)
            # An unknown product may come back with id 0: the answer keeps request order.
            if entry is None and index < len(entries) and is_anonymous(entries[index]):
                entry = entries[index]
            results.append(self.entry_result(snap, entry, response.attempts))
        return results

    def entry_result(self, snap: OfferSnapshot, entry, attempts: int) -> OfferResult:
        if entry is None:
            return failed(
                snap.offer_id,
                NO_ANSWER_FOR_PRODUCT(),
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

    def read_current(
        self, listing_ids: list[str], *, deadline: float | None = None
    ) -> ListingReads:
        """A send in doubt (everyday sync): `GET /products/{id}` of each."""
        if not listing_ids:
            return ListingReads()
        self.check_credentials()
        self.client.start_chunk(deadline)
        base = f"{self.integration.api_url.rstrip('/')}/wp-json/wc/v3/products"

        def read_one(product_id: str):
            return self.client.request(
                "GET",
                f"{base}/{quote(product_id, safe='')}",
                spend={"shop": 1},
                headers={"Accept": "application/json"},
            )

        return self.read_each(
            listing_ids,
            read_one,
            product_fields,
            lambda response: woo_error(json_or_empty(response))[:2],
        )

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
                NOT_LISTED(message=message or f"{response.status_code} {response.reason}"),
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
