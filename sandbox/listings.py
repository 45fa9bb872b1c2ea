"""Control of what a channel holds: seed listings in bulk, drift them as a seller would.

`POST /_sandbox/{channel}/{account}/seed` and `…/drift` (see README.md). Only the channels the
sandbox can be read back from (Allegro, WooCommerce, Amazon): Zalando's read APIs are not
emulated.
"""

import random
import time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

READABLE = ("allegro", "woocommerce", "amazon")
DRIFT_FIELDS = ("price", "name", "stock", "description")
ALLEGRO_MAX_NAME = 75
ALLEGRO_FIRST_ID = 20_000_000_000  # new Allegro ids: this + the account's sequence


def _readable(acct) -> None:
    if acct.channel not in READABLE:
        raise ValueError(
            f"{acct.channel}: no read API is emulated (xSale reads none: docs/channels/), "
            "so there is nothing to seed or drift"
        )


def _amount(value) -> str:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"price {value!r} is not a decimal") from None
    if amount <= 0:
        raise ValueError(f"price {value!r} must be positive")
    return str(amount)


def _count(value, what) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} must be a whole number ≥ 0")
    return value


def _new_id(acct):
    """A listing id the account does not hold and never held (call with acct.lock held)."""
    while True:
        n = acct.next_seq("ids")
        if acct.channel == "amazon":  # an Amazon listing is keyed by its SKU
            key = f"DRIFT-{n}"
        else:
            key = str(ALLEGRO_FIRST_ID + n) if acct.channel == "allegro" else str(n)
        if key not in acct.offers and key not in acct.removed:
            return n if acct.channel == "woocommerce" else key


# --- seed -----------------------------------------------------------------------------------

ALLEGRO_SEED_KEYS = {
    "id",
    "name",
    "price",
    "currency",
    "stock",
    "external_id",
    "description",
    "images",
    "sold",
}
WOO_SEED_KEYS = {"id", "name", "sku", "external_id", "price", "stock", "description", "images"}


def _allegro_offer(item: dict, offer_id: str, now: float) -> dict:
    offer = {k: v for k, v in item.items() if k not in ALLEGRO_SEED_KEYS}
    offer["id"] = offer_id
    if "name" in item:
        offer["name"] = str(item["name"])
    if "price" in item:
        currency = item.get("currency") or "PLN"
        offer["sellingMode"] = {"price": {"amount": _amount(item["price"]), "currency": currency}}
    if "stock" in item:
        offer["stock"] = {"available": _count(item["stock"], "stock"), "unit": "UNIT"}
    if item.get("external_id") is not None:
        offer["external"] = {"id": str(item["external_id"])}
    description = item.get("description")
    if isinstance(description, str):
        offer["description"] = {"sections": [{"items": [{"type": "TEXT", "content": description}]}]}
    elif description is not None:
        offer["description"] = description
    if "images" in item:
        offer["images"] = [str(url) for url in item["images"]]
    if "sold" in item:
        offer["sold"] = _count(item["sold"], "sold")
    offer.update({"edits": 0, "seeded": True, "updated_at": now})
    return offer


def _woo_product(acct, item: dict, product_id: int, now: float) -> dict:
    product = {k: v for k, v in item.items() if k not in WOO_SEED_KEYS}
    product["id"] = product_id
    if "name" in item:
        product["name"] = str(item["name"])
    sku = item.get("sku", item.get("external_id"))
    if sku is not None:
        product["sku"] = str(sku)
    if "price" in item:
        product["regular_price"] = _amount(item["price"])
    if "stock" in item:
        quantity = _count(item["stock"], "stock")
        product.update(
            {
                "manage_stock": True,
                "stock_quantity": quantity,
                "stock_status": "instock" if quantity > 0 else "outofstock",
            }
        )
    if "description" in item:
        product["description"] = str(item["description"])
    if "images" in item:
        images = []
        for position, image in enumerate(item["images"]):
            image = {"src": image} if isinstance(image, str) else dict(image)
            image.setdefault("id", acct.next_seq("ids"))
            images.append({**image, "position": position})
        product["images"] = images
    product["edits"] = 0
    product["seeded"] = True
    product["date_modified"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    return product


AMAZON_SEED_KEYS = {
    "sku",
    "name",
    "description",
    "bullet_points",
    "price",
    "currency",
    "stock",
    "images",
    "product_type",
    "attributes",
}


def _amazon_listing(acct, item: dict, now: float) -> dict:
    """An Amazon listing from a seed item: attributes as the Listings Items API holds them."""
    sku = item.get("sku")
    if not isinstance(sku, str) or not sku:
        raise ValueError("an Amazon listing needs a sku (string)")
    unknown = set(item) - AMAZON_SEED_KEYS
    if unknown:
        raise ValueError(f"unknown keys for an Amazon listing: {', '.join(sorted(unknown))}")
    place = _AmazonKind(acct.config)
    attributes = {}
    if "name" in item:
        attributes["item_name"] = [place.text(str(item["name"]))]
    if "description" in item:
        attributes["product_description"] = [place.text(str(item["description"]))]
    if "bullet_points" in item:
        attributes["bullet_point"] = [place.text(str(b)) for b in item["bullet_points"]]
    if "price" in item:
        attributes["purchasable_offer"] = [
            place.offer(_amount(item["price"]), item.get("currency") or place.currency)
        ]
    if "stock" in item:
        attributes["fulfillment_availability"] = [place.stock(_count(item["stock"], "stock"))]
    for position, url in enumerate(item.get("images") or []):
        if position > 8:
            raise ValueError("at most 9 images (main + other_product_image_locator_1…8)")
        name = (
            "main_product_image_locator"
            if position == 0
            else f"other_product_image_locator_{position}"
        )
        attributes[name] = [{"media_location": str(url), "marketplace_id": place.marketplace}]
    attributes.update(item.get("attributes") or {})
    return {
        "sku": sku,
        "productType": str(item.get("product_type") or "PRODUCT"),
        "attributes": attributes,
        "issues": [],
        "createdDate": now,
        "lastUpdatedDate": now,
        "edits": 0,
        "seeded": True,
    }


def seed(acct, payload: dict, base_url: str = "") -> dict:
    """Store listings as they are, no validation beyond types; answer their ids."""
    _readable(acct)
    items = payload.get("offers")
    if not isinstance(items, list):
        raise ValueError('"offers" must be a list of listings')
    now = time.time()
    ids = []
    with acct.lock:
        for item in items:
            if not isinstance(item, dict):
                raise ValueError("every listing must be an object")
            if acct.channel == "allegro":
                offer_id = str(item["id"]) if item.get("id") is not None else _new_id(acct)
                acct.offers[offer_id] = _allegro_offer(item, offer_id, now)
                acct.removed.discard(offer_id)
            elif acct.channel == "amazon":
                offer_id = item.get("sku")
                acct.offers[offer_id] = _amazon_listing(acct, item, now)
                acct.removed.discard(offer_id)
            else:
                product_id = item.get("id")
                if product_id is None:
                    product_id = _new_id(acct)
                elif not isinstance(product_id, int) or isinstance(product_id, bool):
                    raise ValueError("a WooCommerce product id must be an integer")
                acct.offers[str(product_id)] = _woo_product(acct, item, product_id, now)
                acct.removed.discard(str(product_id))
                acct.seq["ids"] = max(acct.seq["ids"], product_id)
            ids.append(product_id if acct.channel == "woocommerce" else offer_id)
        total = len(acct.offers)
    return {"seeded": len(ids), "ids": ids, "offer_count": total}


# --- drift ----------------------------------------------------------------------------------


def _share(payload, key) -> float:
    value = payload.get(key, 0) or 0
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ValueError(f"{key} must be a number from 0 to 1")
    return float(value)


def _order(key: str):
    return (len(key), key)  # numeric ids in numeric order


def _new_price(old, rng) -> str:
    try:
        base = Decimal(str(old)) if old not in (None, "") else Decimal("19.99")
    except InvalidOperation:
        base = Decimal("19.99")
    factor = Decimal(rng.choice(("0.85", "0.90", "1.10", "1.20")))
    new = (base * factor).quantize(Decimal("0.01"), ROUND_HALF_UP)
    if new == base or new <= 0:
        new = base + Decimal("1.00")
    return str(new)


def _new_name(old, rng, limit=None) -> str:
    base = str(old or "Oferta")
    suffix = f" (zmiana {rng.randint(1, 999)})"
    if limit:
        base = base[: limit - len(suffix)]
    return base + suffix


def _new_stock(old, rng) -> int:
    return (old if isinstance(old, int) else 0) + rng.randint(1, 9)


DRIFT_TEXT = "<p>Opis zmieniony bezpośrednio na kanale.</p>"


class _Allegro:
    @staticmethod
    def get(offer, field):
        if field == "price":
            return ((offer.get("sellingMode") or {}).get("price") or {}).get("amount")
        if field == "stock":
            return (offer.get("stock") or {}).get("available")
        return offer.get(field)

    @staticmethod
    def set(offer, field, old, rng):
        if field == "price":
            price = dict((offer.get("sellingMode") or {}).get("price") or {"currency": "PLN"})
            price["amount"] = _new_price(old, rng)
            offer["sellingMode"] = {**(offer.get("sellingMode") or {}), "price": price}
            return price["amount"]
        if field == "name":
            offer["name"] = _new_name(old, rng, ALLEGRO_MAX_NAME)
            return offer["name"]
        if field == "stock":
            stock = {"unit": "UNIT", **(offer.get("stock") or {})}
            stock["available"] = _new_stock(old, rng)
            offer["stock"] = stock
            return stock["available"]
        sections = list((old if isinstance(old, dict) else {}).get("sections") or [])
        offer["description"] = {
            "sections": [*sections, {"items": [{"type": "TEXT", "content": DRIFT_TEXT}]}]
        }
        return offer["description"]

    @staticmethod
    def unknown(offer_id, rng):
        return {
            "id": offer_id,
            "name": f"Oferta spoza xSale {offer_id}",
            "sellingMode": {"price": {"amount": _new_price(None, rng), "currency": "PLN"}},
            "stock": {"available": rng.randint(1, 50), "unit": "UNIT"},
            "external": {"id": f"DRIFT-{offer_id}"},
            "edits": 0,
        }


class _Woo:
    FIELDS = {"price": "regular_price", "name": "name", "stock": "stock_quantity"}

    @staticmethod
    def get(product, field):
        return product.get(_Woo.FIELDS.get(field, field))

    @staticmethod
    def set(product, field, old, rng):
        if field == "price":
            value = product["regular_price"] = _new_price(old, rng)
        elif field == "name":
            value = product["name"] = _new_name(old, rng)
        elif field == "stock":
            value = product["stock_quantity"] = _new_stock(old, rng)
            if product.get("manage_stock"):
                product["stock_status"] = "instock" if value > 0 else "outofstock"
        else:
            value = product["description"] = str(old or "") + DRIFT_TEXT
        return value

    @staticmethod
    def unknown(product_id, rng):
        quantity = rng.randint(1, 50)
        return {
            "id": product_id,
            "name": f"Produkt spoza xSale {product_id}",
            "sku": f"DRIFT-{product_id}",
            "regular_price": _new_price(None, rng),
            "manage_stock": True,
            "stock_quantity": quantity,
            "stock_status": "instock",
            "edits": 0,
        }


class _AmazonKind:
    """Amazon listings: attributes for the account's marketplace and language."""

    def __init__(self, config):
        self.marketplace = str(config.get("marketplace_id") or "A1C3SOZRARQ6R3")
        self.language = str(config.get("language_tag") or "pl_PL")
        self.currency = str(config.get("currency") or "PLN")

    def text(self, value):
        return {"value": value, "language_tag": self.language, "marketplace_id": self.marketplace}

    def offer(self, amount, currency):
        schedule = [{"value_with_tax": float(amount)}]
        return {
            "currency": currency,
            "our_price": [{"schedule": schedule}],
            "marketplace_id": self.marketplace,
        }

    def stock(self, quantity):
        return {"fulfillment_channel_code": "DEFAULT", "quantity": quantity}

    FIELDS = {"name": "item_name", "description": "product_description"}

    def _entry(self, listing, name):
        for entry in listing.get("attributes", {}).get(name) or []:
            if entry.get("marketplace_id") in (None, self.marketplace):
                return entry
        return None

    def get(self, listing, field):
        if field == "price":
            entry = self._entry(listing, "purchasable_offer")
            try:
                value = entry["our_price"][0]["schedule"][0]["value_with_tax"]
            except (TypeError, KeyError, IndexError):
                return None
            return _amount(value)
        if field == "stock":
            for entry in listing.get("attributes", {}).get("fulfillment_availability") or []:
                if entry.get("fulfillment_channel_code") == "DEFAULT":
                    return entry.get("quantity")
            return None
        entry = self._entry(listing, self.FIELDS[field])
        return entry.get("value") if entry else None

    def set(self, listing, field, old, rng):
        attributes = listing.setdefault("attributes", {})
        if field == "price":
            entry = self._entry(listing, "purchasable_offer")
            currency = entry.get("currency") if entry else self.currency
            value = _new_price(old, rng)
            attributes["purchasable_offer"] = [self.offer(value, currency)]
        elif field == "stock":
            value = _new_stock(old, rng)
            attributes["fulfillment_availability"] = [self.stock(value)]
        else:
            value = _new_name(old, rng) if field == "name" else str(old or "") + DRIFT_TEXT
            attributes[self.FIELDS[field]] = [self.text(value)]
        return value

    def unknown(self, sku, rng):
        return {
            "sku": sku,
            "productType": "PRODUCT",
            "attributes": {
                "item_name": [self.text(f"Oferta spoza xSale {sku}")],
                "purchasable_offer": [self.offer(_new_price(None, rng), self.currency)],
                "fulfillment_availability": [self.stock(rng.randint(1, 50))],
            },
            "issues": [],
            "createdDate": time.time(),
            "lastUpdatedDate": time.time(),
            "edits": 0,
        }


def drift(acct, payload: dict) -> dict:
    """Change what the channel holds behind the app's back, deterministically for a `seed`.

    Removals are drawn first, then for each field (price, name, stock, description) its share
    of the remaining listings (rounded), then `add_unknown` new listings. Answers exactly what
    changed: {"changes": {field: [{"id", "before", "after"}]}, "removed": [id], "added": [id]}.
    """
    _readable(acct)
    shares = {field: _share(payload, f"{field}_share") for field in DRIFT_FIELDS}
    remove = _count(payload.get("remove", 0) or 0, "remove")
    add_unknown = _count(payload.get("add_unknown", 0) or 0, "add_unknown")
    seed_value = payload.get("seed", 0)
    rng = random.Random(str(seed_value))
    kind = {"allegro": _Allegro, "woocommerce": _Woo}.get(acct.channel) or _AmazonKind(acct.config)
    native = int if acct.channel == "woocommerce" else (lambda key: key)
    now = time.time()
    with acct.lock:
        keys = sorted(acct.offers, key=_order)
        removed = sorted(rng.sample(keys, min(remove, len(keys))), key=_order)
        gone = set(removed)
        for key in removed:
            del acct.offers[key]
            acct.removed.add(key)
        keys = [key for key in keys if key not in gone]
        changes = {}
        for field in DRIFT_FIELDS:
            count = int(shares[field] * len(keys) + 0.5)
            changed = []
            for key in sorted(rng.sample(keys, count), key=_order):
                listing = acct.offers[key]
                before = kind.get(listing, field)
                after = kind.set(listing, field, before, rng)
                listing["drifted_at"] = now
                changed.append({"id": native(key), "before": before, "after": after})
            changes[field] = changed
        added = []
        for _ in range(add_unknown):
            listing_id = _new_id(acct)
            listing = kind.unknown(listing_id, rng)
            listing["drifted_at"] = now
            acct.offers[str(listing_id)] = listing
            added.append(listing_id)
        total = len(acct.offers)
    return {
        "seed": seed_value,
        "changes": changes,
        "removed": [native(key) for key in removed],
        "added": added,
        "offer_count": total,
    }
