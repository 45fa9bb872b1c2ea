"""Mirakl benchmark (issue 27). Prints figures; asserts nothing. Not run in CI.

Against the sandbox's Mirakl emulator, which counts each call type against its published
frequency (sandbox/README.md "Mirakl"), with time scaled by `--scale` (default 0.02: a Mirakl
"minute" is 1.2 s, P41's 15 minutes 18 s, a "day" 29 min) — xSale's budgets are scaled the same
way (each window rounded up to whole seconds, so never shorter than the sandbox's):

  1. a resync of N offers (default 50,000; all data: offers by OF01, products by P41) onto a
     shop that already holds them with fields xSale does not send (lead time, internal
     description, a back-office discount): imports made, time against the bound the call
     frequencies and processing set, frequencies exceeded, every refused line a failure with
     Mirakl's message, and how many offers lost a field xSale does not send (must be 0);
  2. prices and stock of the N offers (OF01 PARTIAL_UPDATE: never PRI01, which deletes the
     discount): the same figures;
  3. a resync again once the operator accepts every line (photos are not sent again), then a
     drift check of the N offers after the sandbox drifted them (known, exact changes):
     time, requests, findings against what the sandbox changed.

The engine runs in this process (tasks as the resync cluster would run them); the sandbox in a
subprocess; SQLite.

Usage: .venv/bin/python bench/mirakl.py [--offers 50000] [--scale 0.02]
       [--processing-per-1000 6]
"""

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from amazon_resync import drain  # noqa: E402 - tasks as the resync cluster runs them

FAILING = 10  # SKUs whose offer line the sandbox refuses, each with its own message
REJECTED = 7  # products the operator rejects (P44)
ACCOUNT = "bench-mirakl"


def scaled_limits(scale: float) -> dict:
    from integrations.saleschannels.mirakl.descriptor import CALLS

    return {
        name: [[limit.count, max(1, math.ceil(limit.seconds * scale))]]
        for name, _code, limit, _label in CALLS
    }


def counters(url) -> dict:
    return h.sandbox_state(url, "mirakl", ACCOUNT, offers=False)["counters"]


def untouched(url, offers) -> dict:
    held = h.sandbox_state(url, "mirakl", ACCOUNT)["offers"]
    kept = {"leadtime_to_ship": 0, "internal_description": 0, "discount_price": 0}
    for n in range(1, offers + 1):
        offer = held.get(str(1000 + n)) or {}
        kept["leadtime_to_ship"] += offer.get("leadtime_to_ship") == 3
        kept["internal_description"] += offer.get("internal_description") == f"Regał {n % 40}"
        kept["discount_price"] += offer.get("discount_price") == "0.50"
    return kept


def report_run(label, run, took, paused, before, url, offers, windows, seconds):
    """`windows`: the scaled OF01 and P41 windows; `seconds`: an offer import's and a product
    import's processing. The bound: the imports made, one per its call's window (the first at
    once), then the last one's processing."""
    from integrations.models import ChannelBatch, ResyncFailure

    after = counters(url)
    calls = {
        k: after["by_endpoint"].get(k, 0) - before["by_endpoint"].get(k, 0)
        for k in after["by_endpoint"]
        if after["by_endpoint"].get(k, 0) != before["by_endpoint"].get(k, 0)
    }
    bound = max(
        (calls.get(code, 1) - 1) * windows[code] + seconds[code] if calls.get(code) else 0
        for code in ("OF01", "P41")
    )
    batches = ChannelBatch.objects.filter(run=run)
    failures = ResyncFailure.objects.filter(run=run)
    codes = sorted(set(failures.values_list("code", flat=True)))
    print(
        f"{label}: {run.status}, sent {run.sent:,}, failed {run.failed:,} "
        f"({failures.exclude(message='').count()} with Mirakl's message, codes {codes}), "
        f"awaiting {run.awaiting}; batches "
        f"{sorted((b.operation, len(b.offers)) for b in batches)}"
    )
    print(
        f"  time {took:.1f} s (paused {paused:.1f} s) vs the bound of the call frequencies and "
        f"processing {bound:.1f} s; calls {calls}"
    )
    print(
        f"  throttled {after['throttled'] - before['throttled']}, limit violations "
        f"{after['limit_violations'] - before['limit_violations']}; fields xSale does not send "
        f"still there on {untouched(url, offers)} of {offers:,} offers"
    )


def main(offers, scale, per_1000):
    h.setup_django()
    from django.conf import settings

    from integrations.models import DriftItem, Integration
    from integrations.services import drift as drift_service
    from integrations.services.demo import DEMO_CREDENTIALS
    from integrations.services.runs import start_resync
    from tests.catalogue import make_offers

    sandbox, url = h.start_sandbox()
    try:
        minute = 60 * scale
        processing = per_1000 * scale  # seconds an import of 1,000 lines takes, scaled
        settings.CHANNEL_LIMITS = {"mirakl": scaled_limits(scale)}
        settings.SITE_URL = "https://xsale.example.pl"
        settings.MIRAKL_WORK_DIR = tempfile.mkdtemp(prefix="bench-mirakl-")
        settings.MIRAKL_IMPORT_PROCESSING_SECONDS = processing * 20
        h.sandbox_configure(
            url,
            "mirakl",
            ACCOUNT,
            minute_seconds=minute,
            day_seconds=86400 * scale,
            import_queue_seconds=0.1,
            import_processing_seconds=0.2,
            import_seconds_per_1000_lines=processing,
            product_processing_seconds=processing * 20,
            export_processing_seconds=2,
            keep_offers=True,
            refuse_skus={
                str(1000 + n * 997): f"Cena poza widełkami operatora ({n})."
                for n in range(1, FAILING + 1)
            },  # fmt: skip
            refuse_rules=[
                {
                    "field": "title",
                    "pattern": f"^Oferta testowa {n * 1009}$",
                    "message": f"Produkt odrzucony przez operatora ({n}).",
                    "imports": ["products"],
                }
                for n in range(1, REJECTED + 1)
            ],
        )
        integration = Integration.objects.create(
            name="Mirakl bench",
            channel="mirakl",
            credentials=dict(DEMO_CREDENTIALS["mirakl"]),
            channel_settings={"product_category": "kubki"},
            api_url=f"{url}/mirakl/{ACCOUNT}",
        )
        started = time.monotonic()
        make_offers(integration, offers, photos=1)
        for first in range(1, offers + 1, 10_000):
            shop = [
                {
                    "sku": str(1000 + n),
                    "price": "1.00",
                    "quantity": 1,
                    "leadtime_to_ship": 3,
                    "internal_description": f"Regał {n % 40}",
                    "discount_price": "0.50",
                }
                for n in range(first, min(first + 10_000, offers + 1))
            ]
            requests.post(
                f"{url}/_sandbox/mirakl/{ACCOUNT}/seed", json={"offers": shop}, timeout=300
            ).raise_for_status()
        print(
            f"catalogue: {offers:,} offers (and the shop's {offers:,}, with lead time, internal "
            f"description and a discount xSale does not send) in "
            f"{time.monotonic() - started:.1f} s; scale {scale} (a minute {minute:.1f} s, P41 "
            f"{15 * minute:.0f} s), import processing {processing:.2f} s per 1,000 lines"
        )
        chunk = integration.facts.batch_chunk_size
        p41_window = max(1, math.ceil(900 * scale))
        of01_window = max(1, math.ceil(60 * scale))
        product_seconds = processing * 20
        offer_seconds = 0.3 + processing * chunk / 1000
        windows = {"OF01": of01_window, "P41": p41_window}
        seconds = {"OF01": offer_seconds, "P41": product_seconds}

        before = counters(url)
        started = time.monotonic()
        run, paused = drain(start_resync(integration, source="cli"))
        took = time.monotonic() - started
        report_run("resync (all)", run, took, paused, before, url, offers, windows, seconds)

        before = counters(url)
        started = time.monotonic()
        run, paused = drain(start_resync(integration, source="cli", data_types="prices_stock"))
        took = time.monotonic() - started
        report_run("prices and stock", run, took, paused, before, url, offers, windows, seconds)

        # The refused offers are not in step: the operator accepts them again, a resync
        # mends them (their photos are not sent again), then the sandbox drifts the shop.
        h.sandbox_configure(url, "mirakl", ACCOUNT, refuse_skus={}, refuse_rules=[])
        before = counters(url)
        started = time.monotonic()
        run, paused = drain(start_resync(integration, source="cli"))
        took = time.monotonic() - started
        report_run("resync again (all)", run, took, paused, before, url, offers, windows, seconds)

        answer = requests.post(
            f"{url}/_sandbox/mirakl/{ACCOUNT}/drift",
            json={
                "price_share": 0.03,
                "stock_share": 0.02,
                "description_share": 0.01,
                "remove": 50,
                "add_unknown": 20,
                "seed": 19,
            },  # fmt: skip
            timeout=300,
        ).json()
        fields = ("price", "stock", "description")
        expected = {f: {str(c["id"]) for c in answer["changes"][f]} for f in fields}
        expected["missing"] = {str(i) for i in answer["removed"]}
        expected["unknown"] = {str(i) for i in answer["added"]}
        before = counters(url)
        started = time.monotonic()
        run, paused = drain(drift_service.start_check(integration, user=None, source="cli"))
        took = time.monotonic() - started
        items = DriftItem.objects.filter(check_run=run)
        differs = list(items.filter(kind="differs"))
        found = {f: {i.external_id for i in differs if f in i.fields} for f in fields}
        found["missing"] = set(items.filter(kind="missing").values_list("external_id", flat=True))
        found["unknown"] = set(items.filter(kind="unknown").values_list("external_id", flat=True))
        exact = all(found[k] == expected[k] for k in expected)
        after = counters(url)
        print(
            f"drift check: {run.status} {run.error!r} in {took:.1f} s (paused {paused:.1f} s "
            f"while Mirakl made the export); listings {run.report['listings']:,}; found "
            + ", ".join(f"{k} {len(v):,}" for k, v in found.items())
            + f" — {'exactly' if exact else 'NOT exactly'} what the sandbox changed; requests "
            f"{after['requests'] - before['requests']}, throttled "
            f"{after['throttled'] - before['throttled']}, limit violations "
            f"{after['limit_violations'] - before['limit_violations']}"
        )
    finally:
        sandbox.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--offers", type=int, default=50_000)
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--processing-per-1000", type=float, default=6.0)
    args = parser.parse_args()
    main(args.offers, args.scale, args.processing_per_1000)
