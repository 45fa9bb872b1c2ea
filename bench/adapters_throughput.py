"""ShopConnect adapters vs a bare `requests` client, against the same sandbox. Asserts nothing.

For each channel: 10,000 offers (one photo each) in a throwaway SQLite database, the sandbox's
limits switched off and xSale's too (the channels' budgets off through CHANNEL_LIMITS, the
integration's own requests_per_minute 10,000,000 — its budget is still spent, as in a real
run), then
  adapter  `adapter_for(integration).send(chunk)` over engine-sized chunks (offers preloaded
           with photos and parameters, as the engine hands them over; loading is not timed)
  bare     a `requests.Session` sending the same requests with the same number in flight:
           Allegro upload + PATCH per offer, Zalando submission per offer + prices/stocks per
           1,000, WooCommerce batches of 100 — no pacing, no retries, no result mapping.
Prints offers/s for both and the ratio (adapter / bare).

Usage: .venv/bin/python bench/adapters_throughput.py [--offers 10000] [--chunk-size N]
       [allegro zalando woocommerce]
"""

import argparse
import base64
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

ALLEGRO_JSON = "application/vnd.allegro.public.v1+json"
NO_LIMITS = {
    "allegro": {
        "app_requests_per_minute": None,
        "patch_per_minute": None,
        "patch_per_hour": None,
        "get_per_minute": None,
    },
    "zalando": {
        "tokens_per_minute": None,
        "submissions_per_second": None,
        "prices_per_minute": None,
        "price_updates_per_minute": None,
        "stocks_per_minute": None,
        "stocks_per_second": None,
        "stock_updates_per_minute": None,
    },
    "woocommerce": {"requests_per_minute": None},
}
# xSale's side: every channel budget switched off (an empty list), for this process and the
# resync workers it starts. The integration's requests_per_minute budget stays (10,000,000).
CHANNEL_LIMITS_OFF = {
    "allegro": {"app": [], "edits": [], "reads": []},
    "zalando": {
        name: []
        for name in (
            "submissions",
            "price_requests",
            "price_updates",
            "stock_requests",
            "stock_updates",
            "tokens",
        )
    },
}
os.environ["CHANNEL_LIMITS"] = json.dumps(CHANNEL_LIMITS_OFF)


def make_integration(url, channel, account):
    from integrations.models import Integration
    from integrations.services.demo import DEMO_CREDENTIALS, sandbox_integration_urls

    h.sandbox_configure(url, channel, account, limits=NO_LIMITS[channel], keep_offers=False)
    return Integration.objects.create(
        name=f"{channel}-{account}",
        channel=channel,
        credentials=dict(DEMO_CREDENTIALS[channel]),
        requests_per_minute=10_000_000,
        **sandbox_integration_urls(channel, account, url),
    )


def load_items(integration):
    sys.path.insert(0, str(h.ROOT))
    from tests.allegro_openapi import items_for

    return items_for(integration, send_photos=True)


def run_adapter(integration, items, chunk_size=None):
    from integrations.engine.store import adapter_for

    size = chunk_size or integration.facts.chunk_size
    started = time.monotonic()
    failed = 0
    for i in range(0, len(items), size):
        adapter = adapter_for(integration)
        failed += sum(not r.ok for r in adapter.send(items[i : i + size]))
    return time.monotonic() - started, failed


# --- the bare client: the same requests, nothing else ---------------------------------------


def bare_session(pool):
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_maxsize=pool))
    return session


def read(photo):
    with photo.image.storage.open(photo.image.name, "rb") as fh:
        return fh.read()


def bare_allegro(integration, items):
    session = bare_session(32)
    api, upload = integration.api_url, integration.upload_url
    auth = {"Authorization": "Bearer sandbox-access", "Accept": ALLEGRO_JSON}
    offers = [(it.offer, it.link.external_id, list(it.offer.photos.all())) for it in items]

    def send(entry):
        offer, external_id, photos = entry
        images = []
        for photo in photos:
            r = session.post(
                f"{upload}/sale/images",
                data=read(photo),
                headers={**auth, "Content-Type": photo.content_type},
                timeout=(5, 60),
            )
            images.append(r.json()["location"])
        body = {
            "name": offer.name[:75],
            "description": {
                "sections": [{"items": [{"type": "TEXT", "content": offer.description}]}]
            },
            "parameters": [{"name": p.name, "values": [p.value]} for p in offer.parameters.all()],
            "sellingMode": {"price": {"amount": f"{offer.price:.2f}", "currency": offer.currency}},
            "stock": {"available": offer.stock, "unit": "UNIT"},
            "external": {"id": offer.sku},
            "images": images,
        }
        r = session.patch(
            f"{api}/sale/product-offers/{external_id}",
            data=json.dumps(body, ensure_ascii=False).encode(),
            headers={**auth, "Content-Type": ALLEGRO_JSON, "Accept-Language": "pl-PL"},
            timeout=(5, 60),
        )
        return r.status_code == 200

    started = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        ok = sum(pool.map(send, offers))
    return time.monotonic() - started, len(offers) - ok


def bare_zalando(integration, items):
    session = bare_session(16)
    creds = integration.credentials
    token = session.post(
        f"{integration.api_url}/auth/token",
        auth=(creds["client_id"], creds["client_secret"]),
        data={"grant_type": "client_credentials", "scope": "access_token_only"},
        timeout=(5, 60),
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    merchant = f"{integration.api_url}/merchants/{creds['merchant_id']}"
    channel = creds["sales_channel_id"]
    offers = [(it.offer, list(it.offer.photos.all())) for it in items]

    def submit(entry):
        offer, photos = entry
        body = {
            "product_model": {
                "merchant_product_model_id": offer.sku,
                "product_model_attributes": {"name": offer.name, "description": offer.description},
                "product_configs": [
                    {
                        "merchant_product_config_id": offer.sku,
                        "product_config_attributes": {
                            p.name: p.value for p in offer.parameters.all()
                        },
                        "media": [
                            {
                                "media_sort_key": i,
                                "content_type": p.content_type,
                                "content_base64": base64.b64encode(read(p)).decode(),
                            }
                            for i, p in enumerate(photos, 1)
                        ],
                        "product_simples": [
                            {
                                "merchant_product_simple_id": offer.sku,
                                "product_simple_attributes": {"ean": offer.ean},
                            }
                        ],
                    }
                ],
            }
        }
        r = session.post(
            f"{merchant}/product-submissions", json=body, headers=auth, timeout=(5, 60)
        )
        return r.status_code == 202

    def bulk(batch):
        prices = {
            "product_prices": [
                {
                    "ean": o.ean,
                    "sales_channel_id": channel,
                    "regular_price": {"amount": float(o.price), "currency": o.currency},
                }
                for o, _ in batch
            ]
        }
        stocks = {
            "items": [
                {"sales_channel_id": channel, "ean": o.ean, "quantity": o.stock} for o, _ in batch
            ]
        }
        a = session.post(f"{merchant}/prices", json=prices, headers=auth, timeout=(5, 60))
        b = session.post(f"{merchant}/stocks", json=stocks, headers=auth, timeout=(5, 60))
        return a.status_code == 207 and b.status_code == 207

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        ok = sum(pool.map(submit, offers))
        batches = [offers[i : i + 1000] for i in range(0, len(offers), 1000)]
        list(pool.map(bulk, batches))
    return time.monotonic() - started, len(offers) - ok


def bare_woocommerce(integration, items):
    from django.conf import settings

    session = bare_session(4)
    creds = integration.credentials
    url = f"{integration.api_url}/wp-json/wc/v3/products/batch"

    def update(it):
        offer = it.offer
        return {
            "id": int(it.link.external_id),
            "name": offer.name,
            "sku": offer.sku,
            "description": offer.description,
            "regular_price": f"{offer.price:.2f}",
            "manage_stock": True,
            "stock_quantity": offer.stock,
            "stock_status": "instock" if offer.stock > 0 else "outofstock",
            "attributes": [
                {
                    "name": p.name,
                    "position": i,
                    "visible": True,
                    "variation": False,
                    "options": [p.value],
                }
                for i, p in enumerate(offer.parameters.all())
            ],
            "images": [
                {"src": f"{settings.SITE_URL}/{p.image.url.lstrip('/')}", "alt": offer.name}
                for p in offer.photos.all()
            ],
        }

    def send(batch):
        r = session.post(
            url,
            json={"update": [update(it) for it in batch]},
            auth=(creds["consumer_key"], creds["consumer_secret"]),
            timeout=(5, 60),
        )
        return sum("error" not in e for e in r.json()["update"])

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        ok = sum(pool.map(send, [items[i : i + 100] for i in range(0, len(items), 100)]))
    return time.monotonic() - started, len(items) - ok


BARE = {"allegro": bare_allegro, "zalando": bare_zalando, "woocommerce": bare_woocommerce}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("channels", nargs="*", default=list(BARE))
    parser.add_argument("--offers", type=int, default=10_000)
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="offers per send (default: the engine's)"
    )
    args = parser.parse_args()

    h.setup_django()
    from tests.catalogue import make_offers

    sandbox, url = h.start_sandbox()
    rows = []
    try:
        for channel in args.channels:
            figures = {}
            for who in ("adapter", "bare"):
                integration = make_integration(url, channel, f"bench-{who}")
                make_offers(integration, args.offers, prefix=f"{channel[:2]}{who[0]}-")
                items = load_items(integration)
                if who == "adapter":
                    seconds, failed = run_adapter(integration, items, args.chunk_size)
                else:
                    seconds, failed = BARE[channel](integration, items)
                figures[who] = (args.offers / seconds, seconds, failed)
                print(
                    f"{channel:12} {who:8} {args.offers} offers in {seconds:6.1f} s "
                    f"= {args.offers / seconds:7.1f} offers/s, {failed} failed",
                    flush=True,
                )
            rows.append((channel, figures))
    finally:
        sandbox.stop()

    print("\n| channel | adapter offers/s | bare client offers/s | adapter / bare |")
    print("|---|---|---|---|")
    for channel, f in rows:
        print(
            f"| {channel} | {f['adapter'][0]:.0f} | {f['bare'][0]:.0f} | "
            f"{f['adapter'][0] / f['bare'][0]:.2f} |"
        )


if __name__ == "__main__":
    main()
