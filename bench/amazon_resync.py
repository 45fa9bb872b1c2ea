"""Amazon resync benchmark (issue 19). Prints figures; asserts nothing. Not run in CI.

Against the sandbox's Amazon emulator, which enforces the published usage plans (token buckets
per operation; 5 JSON_LISTINGS_FEEDs per 5 minutes) — our budgets pace by the same numbers:

  1. a resync of N offers (default 50,000) that goes in JSON_LISTINGS_FEEDs through the
     engine's batches: feeds submitted, total time against the bound the submission budget and
     the processing set, limits exceeded (sandbox counters), every offer confirmed or failed
     with Amazon's message (a few SKUs are made to fail). Amazon's processing time is scaled:
     `--processing-seconds` (what a real feed takes, default 300) × `--scale` (default 0.02).
  2. a resync of 300 offers by the Listings Items API (PATCH each), its rate against 5/s.
  3. `--drift N`: instead, a drift check of prices and stock on N listings (default 50,000)
     seeded in the sandbox as a resync leaves them, then drifted by the sandbox (known, exact
     changes): the GET_MERCHANT_LISTINGS_ALL_DATA report downloaded to a file and read in pages
     — time, requests, the bench process's peak memory during the check, and the findings
     against what the sandbox changed.

The engine runs in this process (tasks as the resync cluster would run them, one after the
other, each `RESYNC_TASK_SECONDS` long); the sandbox in a subprocess; SQLite.

Usage: .venv/bin/python bench/amazon_resync.py [--offers 50000] [--scale 0.02]
       [--processing-seconds 300] [--patch-offers 300]
       .venv/bin/python bench/amazon_resync.py --drift 50000
"""

import argparse
import math
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

FAILING = 10  # SKUs the sandbox refuses, each with its own message


def make_integration(url, account, name):
    from integrations.models import Integration
    from integrations.services.demo import DEMO_CREDENTIALS

    seller = h.sandbox_state(url, "amazon", account)["seller_id"]
    base = f"{url}/amazon/{account}"
    return Integration.objects.create(
        name=name,
        channel="amazon",
        credentials=dict(DEMO_CREDENTIALS["amazon"]),
        channel_settings={"seller_id": seller, "product_type": "HOME"},
        api_url=base,
        auth_url=f"{base}/auth/o2/token",
    )


def drain(run):
    """Tasks until the run ends; a paused run is woken WAKE_LEAD_SECONDS before its pause is
    over, as the resync cluster's sweeper wakes it (engine/skeleton.py)."""
    from django.utils import timezone

    from integrations.engine.runner import process_chunk
    from integrations.engine.skeleton import WAKE_LEAD_SECONDS
    from integrations.models import ResyncRun

    paused = 0.0
    while True:
        run.refresh_from_db()
        if not run.is_active:
            return run, paused
        if run.status == "paused":
            pause = (run.paused_until - timezone.now()).total_seconds()
            wait = max(pause - WAKE_LEAD_SECONDS, 0)
            paused += wait
            time.sleep(wait)
            ResyncRun.objects.filter(pk=run.pk).update(status="queued")
        process_chunk(run.pk, run.cursor)


def feeds_run(url, offers, processing, scale):
    from django.conf import settings
    from django.utils import timezone

    from integrations.models import ChannelBatch, ResyncFailure
    from integrations.services.estimates import resync_estimate
    from integrations.services.runs import start_resync
    from tests.catalogue import make_offers

    account = "bench-feeds"
    seconds = processing * scale
    h.sandbox_configure(
        url,
        "amazon",
        account,
        feed_queue_seconds=round(seconds / 10, 3),
        feed_processing_seconds=seconds,
        fail_skus={
            str(1000 + n): {"code": "90220", "message": f"'[item_name]' is required ({n})."}
            for n in range(1, FAILING + 1)
        },
    )
    integration = make_integration(url, account, "Amazon feeds")
    started = time.monotonic()
    make_offers(integration, offers, photos=1)
    print(f"catalogue: {offers:,} offers in {time.monotonic() - started:.1f} s")
    settings.AMAZON_FEED_PROCESSING_SECONDS = seconds
    estimate = resync_estimate(integration, offers)
    run = start_resync(integration, source="cli")
    started, began = time.monotonic(), timezone.now()
    run, paused = drain(run)
    took = time.monotonic() - started
    state = h.sandbox_state(url, "amazon", account)
    counters = state["counters"]
    feeds = counters["by_endpoint"].get("POST /feeds/2021-06-30/feeds", 0)
    batches = ChannelBatch.objects.filter(run=run)
    # When each feed was registered (createFeed answered) and its report read, from the start.
    registered = sorted(b.submitted_at for b in batches if b.submitted_at)
    read = max((b.finished_at for b in batches if b.finished_at), default=None)
    print(
        "createFeed registered at "
        + ", ".join(f"{(t - began).total_seconds():.1f}" for t in registered)
        + f" s; the last report read at {(read - began).total_seconds() if read else 0:.1f} s"
    )
    failures = ResyncFailure.objects.filter(run=run)
    with_message = failures.exclude(message="").count()
    # The bound: feeds beyond the burst wait for the 5-a-5-minutes window (and the 15-token
    # createFeed bucket), then the last feed is processed.
    submit_bound = max((math.ceil(feeds / 5) - 1) * 300, (math.ceil(feeds / 15) - 1) * 1808)
    bound = submit_bound + seconds
    print(
        f"feeds: {feeds} submitted for {offers:,} offers (batches {batches.count()}, "
        f"statuses {sorted(set(batches.values_list('status', flat=True)))})"
    )
    print(
        f"run: {run.status}, sent {run.sent:,}, failed {run.failed:,} "
        f"({with_message} with Amazon's message), awaiting {run.awaiting}, processed "
        f"{run.processed:,} of {run.total:,}"
    )
    print(
        f"time: {took:.1f} s (paused {paused:.1f} s) vs the bound of submissions + processing "
        f"{bound:.1f} s (scale {scale}: a {processing} s feed took {seconds:.1f} s); estimate "
        f"{estimate.seconds} s ({estimate.binding})"
    )
    print(
        f"sandbox: requests {counters['requests']:,}, throttled {counters['throttled']}, "
        f"limit violations {counters['limit_violations']}, by endpoint {counters['by_endpoint']}"
    )


def patch_run(url, offers):
    from integrations.services.runs import start_resync
    from tests.catalogue import make_offers

    account = "bench-patch"
    h.sandbox_configure(url, "amazon", account)
    integration = make_integration(url, account, "Amazon PATCH")
    make_offers(integration, offers, photos=1, prefix="P")
    run = start_resync(integration, source="cli")
    started = time.monotonic()
    run, paused = drain(run)
    took = time.monotonic() - started
    state = h.sandbox_state(url, "amazon", account)
    counters = state["counters"]
    rate = state.get("rate") or counters.get("rate") or {}
    print(
        f"Listings Items: {run.status}, sent {run.sent}, failed {run.failed} in {took:.1f} s = "
        f"{run.sent / took:.2f} offers/s (limit 5/s after a burst of 5; best possible "
        f"{(offers - 5) / 5:.1f} s); sandbox average {rate.get('average_per_second')}/s, "
        f"throttled {counters['throttled']}, limit violations {counters['limit_violations']}"
    )


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class PeakMemory:
    """The process's largest resident set while the block runs (sampled every 50 ms)."""

    def __enter__(self):
        self.start = self.peak = rss_kib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_kib())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib())


def drift_run(url, offers):
    import requests

    from integrations.models import DriftItem
    from integrations.services import drift as drift_service
    from tests.catalogue import make_offers

    account = "bench-drift"
    h.sandbox_configure(url, "amazon", account, report_processing_seconds=2)
    integration = make_integration(url, account, "Amazon drift")
    started = time.monotonic()
    make_offers(integration, offers, photos=0)
    for first in range(1, offers + 1, 10_000):
        listings = [
            {
                "sku": str(1000 + n),
                "name": f"Oferta testowa {n}",
                "description": f"<p>Opis oferty {n}</p>",
                "price": f"{n % 500}.99",
                "currency": "PLN",
                "stock": n % 17,
                "images": [f"https://xsale.example.pl/media/offers/{n:06d}/1.jpg"],
                "product_type": "HOME",
            }
            for n in range(first, min(first + 10_000, offers + 1))
        ]
        requests.post(
            f"{url}/_sandbox/amazon/{account}/seed", json={"offers": listings}, timeout=120
        ).raise_for_status()
    print(f"catalogue: {offers:,} offers and listings in {time.monotonic() - started:.1f} s")
    answer = requests.post(
        f"{url}/_sandbox/amazon/{account}/drift",
        json={
            "price_share": 0.03,
            "stock_share": 0.02,
            "remove": 50,
            "add_unknown": 20,
            "seed": 19,
        },  # fmt: skip
        timeout=120,
    ).json()
    expected = {
        "price": {str(c["id"]) for c in answer["changes"]["price"]},
        "stock": {str(c["id"]) for c in answer["changes"]["stock"]},
        "missing": {str(i) for i in answer["removed"]},
        "unknown": {str(i) for i in answer["added"]},
    }
    print("drift: " + ", ".join(f"{k} {len(v):,}" for k, v in expected.items()))
    with PeakMemory() as memory:
        started = time.monotonic()
        run = drift_service.start_check(
            integration, user=None, source="cli", data_types="prices_stock"
        )
        run, paused = drain(run)
        took = time.monotonic() - started
    items = DriftItem.objects.filter(check_run=run)
    found = {
        "price": {i.external_id for i in items.filter(kind="differs") if "price" in i.fields},
        "stock": {i.external_id for i in items.filter(kind="differs") if "stock" in i.fields},
        "missing": set(items.filter(kind="missing").values_list("external_id", flat=True)),
        "unknown": set(items.filter(kind="unknown").values_list("external_id", flat=True)),
    }
    exact = all(found[k] == expected[k] for k in expected)
    counters = h.sandbox_state(url, "amazon", account, offers=False)["counters"]
    print(
        f"check: {run.status} {run.error!r} in {took:.1f} s (paused {paused:.1f} s while "
        f"Amazon made the report); listings read {run.report['listings']:,}, compared "
        f"{run.report['offers']:,} offers; found "
        + ", ".join(f"{k} {len(v):,}" for k, v in found.items())
        + f" — {'exactly' if exact else 'NOT exactly'} what the sandbox changed"
    )
    print(
        f"memory: peak RSS {memory.peak / 1024:.0f} MiB during the check "
        f"(+{(memory.peak - memory.start) / 1024:.0f} MiB over the {memory.start / 1024:.0f} MiB "
        f"before it); report document {counters.get('largest_download', 0) / 1024 / 1024:.1f} "
        f"MiB"
    )
    print(
        f"sandbox: requests {counters['requests']:,} (seed and drift not counted), throttled "
        f"{counters['throttled']}, limit violations {counters['limit_violations']}, by "
        f"endpoint {counters['by_endpoint']}"
    )


def main(offers, processing, scale, patch_offers, drift_offers):
    h.setup_django()
    sandbox, url = h.start_sandbox()
    try:
        if drift_offers:
            drift_run(url, drift_offers)
            return
        feeds_run(url, offers, processing, scale)
        patch_run(url, patch_offers)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--offers", type=int, default=50_000)
    parser.add_argument("--processing-seconds", type=float, default=300.0)
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--patch-offers", type=int, default=300)
    parser.add_argument("--drift", type=int, default=0, metavar="N")
    args = parser.parse_args()
    main(args.offers, args.processing_seconds, args.scale, args.patch_offers, args.drift)
