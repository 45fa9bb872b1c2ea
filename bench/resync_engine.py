"""Resync engine benchmarks (issue #4). Prints figures; asserts nothing.

  throughput  engine offers/s vs a bare HTTP client against the same sandbox (10,000 offers
              per channel, the sandbox's limits lifted and the integration unthrottled)
  limit       share of a channel limit used, with the sandbox enforcing it and answering in
              200 ms, and the number of limit violations
  memory      peak RSS of the resync worker at 100,000 offers vs 10,000

Usage: .venv/bin/python bench/resync_engine.py [throughput|limit|memory ...]
"""

import base64
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

UNLIMITED = {"requests_per_minute": 10_000_000, "patch_per_minute": 10_000_000}
JSON = "application/vnd.allegro.public.v1+json"


def seed(integration, count, prefix):
    from tests.catalogue import make_offers

    t0 = time.monotonic()
    make_offers(integration, count, prefix=prefix)
    return time.monotonic() - t0


def make_integration(url, channel, account, **fields):
    from integrations.demo import DEMO_CREDENTIALS
    from integrations.models import Integration

    base = f"{url}/{channel}/{account}"
    urls = {"api_url": base}
    if channel == "allegro":
        urls.update(upload_url=f"{base}/upload", auth_url=f"{base}/auth/oauth/token")
    return Integration.objects.create(
        name=f"{channel}-{account}",
        channel=channel,
        credentials=dict(DEMO_CREDENTIALS[channel]),
        **urls,
        **fields,
    )


def run_to_end(integration, poll=0.5):
    from integrations.resync import start_resync

    run = start_resync(integration, user=None, source="cli")
    t0 = time.monotonic()
    while True:
        run.refresh_from_db()
        if not run.is_active:
            return run, time.monotonic() - t0
        time.sleep(poll)


# --- the bare client: the same requests, with no engine around them ---------------------------


def bare_client(url, channel, account, offers, concurrency):
    import requests
    from django.conf import settings  # noqa: F401 - settings loaded for MEDIA_ROOT

    from offers.models import Offer

    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=concurrency * 2)
    session.mount("http://", adapter)
    base = f"{url}/{channel}/{account}"
    rows = list(
        Offer.objects.filter(sku__in=offers)
        .prefetch_related("photos", "parameters", "channels")
        .order_by("pk")
    )
    photo = rows[0].photos.all()[0].image.open("rb").read()
    t0 = time.monotonic()
    if channel == "woocommerce":
        auth = ("ck_sandbox", "cs_sandbox")

        def batch(group):
            body = {
                "update": [
                    {
                        "id": int(o.channels.all()[0].external_id),
                        "name": o.name,
                        "sku": o.sku,
                        "description": o.description,
                        "regular_price": str(o.price),
                        "manage_stock": True,
                        "stock_quantity": o.stock,
                        "stock_status": "instock" if o.stock else "outofstock",
                        "attributes": [
                            {
                                "name": p.name,
                                "position": i,
                                "visible": True,
                                "variation": False,
                                "options": [p.value],
                            }
                            for i, p in enumerate(o.parameters.all())
                        ],
                        "images": [
                            {"src": f"http://127.0.0.1:8000/media/{o.photos.all()[0].image.name}"}
                        ],
                    }
                    for o in group
                ]
            }
            session.post(
                f"{base}/wp-json/wc/v3/products/batch", json=body, auth=auth, timeout=(5, 60)
            ).raise_for_status()

        groups = [rows[i : i + 100] for i in range(0, len(rows), 100)]
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(batch, groups))
    elif channel == "allegro":
        headers = {"Authorization": "Bearer sandbox-access", "Accept": JSON}

        def one(o):
            up = session.post(
                f"{base}/upload/sale/images",
                data=photo,
                headers={**headers, "Content-Type": "image/jpeg"},
                timeout=(5, 60),
            )
            up.raise_for_status()
            body = {
                "name": o.name[:75],
                "description": {
                    "sections": [{"items": [{"type": "TEXT", "content": o.description}]}]
                },
                "parameters": [{"name": p.name, "values": [p.value]} for p in o.parameters.all()],
                "sellingMode": {"price": {"amount": str(o.price), "currency": o.currency}},
                "stock": {"available": o.stock, "unit": "UNIT"},
                "images": [up.json()["location"]],
                "external": {"id": o.sku},
            }
            session.patch(
                f"{base}/sale/product-offers/{o.channels.all()[0].external_id}",
                json=body,
                headers={**headers, "Content-Type": JSON},
                timeout=(5, 60),
            ).raise_for_status()

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, rows))
    elif channel == "zalando":
        token = session.post(
            f"{base}/auth/token",
            auth=("sandbox-client", "sandbox-secret"),
            data={"grant_type": "client_credentials", "scope": "access_token_only"},
            timeout=10,
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        merchant, channel_id = "demo-merchant", "01924c48-49bb-40c2-9c32-ab582e6db6f4"
        media = base64.b64encode(photo).decode()

        def submit(o):
            body = {
                "product_model": {
                    "merchant_product_model_id": o.sku,
                    "product_model_attributes": {"name": o.name, "description": o.description},
                    "product_configs": [
                        {
                            "merchant_product_config_id": o.sku,
                            "product_config_attributes": {
                                p.name: p.value for p in o.parameters.all()
                            },
                            "media": [
                                {
                                    "media_sort_key": 1,
                                    "content_type": "image/jpeg",
                                    "content_base64": media,
                                }
                            ],
                            "product_simples": [
                                {
                                    "merchant_product_simple_id": o.sku,
                                    "product_simple_attributes": {"ean": o.ean},
                                }
                            ],
                        }
                    ],
                }
            }
            session.post(
                f"{base}/merchants/{merchant}/product-submissions",
                json=body,
                headers=headers,
                timeout=(5, 60),
            ).raise_for_status()

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(submit, rows))
        for i in range(0, len(rows), 1000):
            group = rows[i : i + 1000]
            session.post(
                f"{base}/merchants/{merchant}/prices",
                headers=headers,
                timeout=(5, 60),
                json={
                    "product_prices": [
                        {
                            "ean": o.ean,
                            "sales_channel_id": channel_id,
                            "regular_price": {"amount": float(o.price), "currency": o.currency},
                        }
                        for o in group
                    ]
                },
            ).raise_for_status()
            t_stock = time.monotonic()
            session.post(
                f"{base}/merchants/{merchant}/stocks",
                headers=headers,
                timeout=(5, 60),
                json={
                    "items": [
                        {"sales_channel_id": channel_id, "ean": o.ean, "quantity": o.stock}
                        for o in group
                    ]
                },
            ).raise_for_status()
            time.sleep(max(0.0, 1.05 - (time.monotonic() - t_stock)))  # stocks: 1 request/s
    return time.monotonic() - t0


def throughput(url, count=10_000, only=None):
    print(f"\n## Engine throughput vs a bare client ({count} offers per channel)")
    print("| channel | engine offers/s | bare client offers/s | ratio |")
    print("|---|---|---|---|")
    for channel, concurrency in (("woocommerce", 4), ("allegro", 16), ("zalando", 16)):
        if only and channel not in only:
            continue
        account = f"tp{channel[:3]}"
        h.sandbox_configure(url, channel, account, limits=UNLIMITED)
        integration = make_integration(url, channel, account, requests_per_minute=1_000_000)
        seed(integration, count, prefix=f"TP{channel[:2].upper()}")
        run, seconds = run_to_end(integration)
        engine = run.sent / seconds
        bare_account = f"bare{channel[:3]}"
        h.sandbox_configure(url, channel, bare_account, limits=UNLIMITED)
        skus = list(integration.offer_links.values_list("offer__sku", flat=True))
        bare_seconds = bare_client(url, channel, bare_account, skus, concurrency)
        bare = count / bare_seconds
        print(
            f"| {channel} | {engine:.0f} | {bare:.0f} | {engine / bare:.2f} |"
            f"  (engine: {run.status}, {run.failed} failed)"
        )
        sys.stdout.flush()


def limit_share(url, patch_limit=600, offers=1500):
    print(
        f"\n## Share of the Allegro PATCH limit used ({patch_limit}/min enforced, 200 ms answers)"
    )
    account = "limit"
    h.sandbox_configure(
        url,
        "allegro",
        account,
        latency_ms=200,
        limits={"requests_per_minute": 9000, "patch_per_minute": patch_limit},
    )
    integration = make_integration(url, "allegro", account, requests_per_minute=patch_limit)
    seed(integration, offers, prefix="LIM")
    run, seconds = run_to_end(integration)
    state = h.sandbox_state(url, "allegro", account)
    counters = state["counters"]
    rate = run.sent / seconds * 60
    print(
        f"- run {run.status}: {run.sent} offers in {seconds:.1f} s = {rate:.0f} PATCH/min "
        f"= {100 * rate / patch_limit:.1f}% of the limit (whole run, start-up included)"
    )
    print(
        f"- sandbox: max PATCH in any 60 s window = {counters.get('max_in_60s')}, "
        f"throttled = {counters.get('throttled')}, limit violations = "
        f"{counters.get('limit_violations')}"
    )


def memory():
    print("\n## Peak RSS of the resync worker")
    from integrations.models import Integration

    results = {}
    for count in (10_000, 100_000):
        account = f"mem{count}"
        h.sandbox_configure(URL, "woocommerce", account, limits=UNLIMITED)
        integration = make_integration(URL, "woocommerce", account, requests_per_minute=1_000_000)
        seed(integration, count, prefix=f"M{count}-")
        worker = h.start_resync_worker()
        peak = {"kib": 0}
        stop = threading.Event()

        def sample(pgid=worker.pid, peak=peak, stop=stop):
            while not stop.is_set():
                rss = h.process_group_rss_kib(pgid)
                if rss:
                    # the largest single process: the worker that runs the chunks
                    peak["kib"] = max(peak["kib"], max(rss.values()))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        run, seconds = run_to_end(Integration.objects.get(pk=integration.pk))
        stop.set()
        sampler.join()
        worker.stop()
        results[count] = peak["kib"]
        print(
            f"- {count} offers: {run.status} in {seconds:.0f} s ({run.sent / seconds:.0f}/s), "
            f"peak RSS {peak['kib'] / 1024:.1f} MiB"
        )
    print(f"- ratio 100k/10k: {results[100_000] / results[10_000]:.2f}")


if __name__ == "__main__":
    wanted = sys.argv[1:] or ["throughput", "limit", "memory"]
    h.setup_django()
    sandbox, URL = h.start_sandbox()
    try:
        if "memory" in wanted:
            memory()
        worker = h.start_resync_worker()
        try:
            if "throughput" in wanted:
                throughput(
                    URL, only=[w for w in wanted if w in ("woocommerce", "allegro", "zalando")]
                )
            if "limit" in wanted:
                limit_share(URL)
        finally:
            worker.stop()
    finally:
        sandbox.stop()
