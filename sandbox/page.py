"""The small HTML page at /_sandbox/: accounts, their counters and what each channel holds."""

import json
import time
from html import escape

SHOWN_OFFERS = 50


def _offer_summary(channel: str, offer: dict) -> str:
    if channel == "allegro":
        price = (offer.get("sellingMode") or {}).get("price") or {}
        stock = (offer.get("stock") or {}).get("available")
        amount = f"{price.get('amount', '')} {price.get('currency', '')}"
        return f"{offer.get('name', '')} · {amount} · stock {stock}"
    if channel == "zalando":
        regular = [p.get("regular_price") or {} for p in (offer.get("prices") or {}).values()]
        prices = ", ".join(f"{p.get('amount')} {p.get('currency')}" for p in regular)
        stocks = ", ".join(str(q) for q in (offer.get("stocks") or {}).values())
        return f"{offer.get('name', '')} · {prices} · stock {stocks}"
    if channel == "amazon":
        attributes = offer.get("attributes") or {}
        name = ((attributes.get("item_name") or [{}])[0]).get("value", "")
        stock = ((attributes.get("fulfillment_availability") or [{}])[0]).get("quantity")
        offers = attributes.get("purchasable_offer") or [{}]
        try:
            price = offers[0]["our_price"][0]["schedule"][0]["value_with_tax"]
        except (KeyError, IndexError, TypeError):
            price = ""
        return f"{name} · {price} {offers[0].get('currency', '')} · stock {stock}"
    if channel == "mirakl":
        return (
            f"{offer.get('product_id', '')} · {offer.get('price', '')} · stock "
            f"{offer.get('quantity', '')}"
        )
    return (
        f"{offer.get('name', '')} · {offer.get('regular_price', '')} · stock "
        f"{offer.get('stock_quantity', '')}"
    )


def render(registry) -> str:
    rows = []
    for acct in registry.all():
        with acct.lock:
            counters = dict(acct.counters)
            offers = list(acct.offers.items())[:SHOWN_OFFERS]
            total = len(acct.offers)
            images = len(acct.images)
            blocked = acct.blocked_for(time.time())
        app = registry.find_app(acct.client_id()) if acct.channel == "allegro" else None
        if app is not None:
            with app.lock:
                blocked = max(blocked, app.blocked_for(time.time()))
        listing = "".join(
            f"<li><code>{escape(str(key))}</code> "
            f"{escape(_offer_summary(acct.channel, offer))}</li>"
            for key, offer in offers
        )
        more = f"<li>… and {total - len(offers)} more</li>" if total > len(offers) else ""
        where = f"{escape(acct.channel)}/{escape(acct.name)}"
        flag = f" — BLOCKED {blocked}s" if blocked else ""
        rows.append(
            f"<section><h2>{where}{flag}</h2>"
            f"<p>{total} listings, {images} images. "
            f"<a href='/_sandbox/{where}/state'>state JSON</a></p>"
            f"<pre>{escape(json.dumps(counters, indent=1))}</pre>"
            f"<ul>{listing}{more}</ul></section>"
        )
    body = "".join(rows) or "<p>No account has been used yet.</p>"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='refresh' content='5'><title>xSale channel sandbox</title>"
        "<style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:.5em;"
        "font-size:12px}section{border-top:1px solid #ccc}</style></head><body>"
        "<h1>xSale channel sandbox</h1>"
        "<p>Emulators of Allegro, Zalando, WooCommerce, Amazon and Mirakl. "
        "Contract: sandbox/README.md.</p>"
        f"{body}</body></html>"
    )
