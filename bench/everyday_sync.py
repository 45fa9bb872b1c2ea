"""Everyday sync benchmarks (issue 26). Prints figures; asserts nothing.

One seller at Allegro's real limits (the sandbox enforces 9,000 requests/min per application,
PATCH 2,490/min and 74,700/h per seller) answering in 50 ms, the `sync` process
(`manage.py run_sync`) running. One catalogue change a second for 30 s on random offers (a new
stock, committed as the import commits it: the offer and its pending work in one transaction),
each timed from its commit to the moment the sandbox holds the new value (the sandbox's state
read every 0.2 s), and to the confirmation xSale recorded (ChangeDelivery, what the pages show).

  quiet   nothing else running
  resync  a full resync of all 3,000 offers running meanwhile (a resync worker process); at the
          end every offer must hold the newest value, with 0 limits exceeded

Mirakl (quiet only) runs at Mirakl's real pace (OF01 and OF02 once a minute, the sandbox's
import processing 1 s queued + 2 s): the changes of a minute go in one import, so its figure is
bound by one import a minute plus processing; the shop holds the offers before (seeded).

Usage: .venv/bin/python bench/everyday_sync.py [quiet|resync ...] [--offers N] [--seconds S]
       [--channel allegro|zalando|woocommerce|amazon|mirakl] (quiet only for the others)
"""

import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

LATENCY_MS = 50


def held_stocks(url, channel, account) -> dict[str, int]:
    """{listing: stock} as the sandbox holds it."""
    offers = h.sandbox_state(url, channel, account)["offers"]
    out = {}
    for listing, data in offers.items():
        if channel == "allegro":
            value = (data.get("stock") or {}).get("available")
        elif channel == "woocommerce":
            value = data.get("stock_quantity")
        elif channel == "zalando":
            value = next(iter((data.get("stocks") or {}).values()), None)
        elif channel == "mirakl":
            value = data.get("quantity")
        else:
            availability = (data.get("attributes") or {}).get("fulfillment_availability") or [{}]
            value = availability[0].get("quantity")
        if value is not None:
            out[str(listing)] = int(value)
    return out


def change_stock(offer_id: int, stock: int) -> float:
    """A catalogue change as the import writes it: the offer and its pending work in one
    transaction. Returns the commit's time."""
    from django.db import transaction

    from offers import outbox
    from offers.models import Offer

    with transaction.atomic():
        Offer.objects.filter(pk=offer_id).update(stock=stock)
        outbox.record_changes([(offer_id, "stock")])
    return time.time()


def percentiles(values):
    if not values:
        return "—"
    ranked = sorted(values)

    def at(q):
        return ranked[min(len(ranked) - 1, max(0, int(q * len(ranked) + 0.999999) - 1))]

    return f"p50 {at(0.5):.2f} s, p95 {at(0.95):.2f} s, max {ranked[-1]:.2f} s"


def listing_of(adapter, offer) -> str:
    from integrations.shopconnect.base import OfferKeys

    return adapter.listing_key(OfferKeys.of(offer.channels.get()))


def watch_changes(url, channel, account, changes, stop):
    """Until `stop`: read the sandbox every 0.2 s; the first time a change's listing holds its
    value, note when."""
    while not stop.is_set() or any(c["seen"] is None for c in changes):
        try:
            held = held_stocks(url, channel, account)
        except Exception as exc:  # noqa: BLE001 - a bench keeps going
            print(f"watch: {exc}", file=sys.stderr)
            held = {}
        now = time.time()
        for change in list(changes):
            if change["seen"] is None and held.get(change["listing"]) == change["stock"]:
                change["seen"] = now
        if stop.is_set() and time.time() > stop.deadline:
            return
        time.sleep(0.2)


# How long after the last change the watcher waits for the channel to hold it.
SETTLE_SECONDS = {"mirakl": 200}


def drive_changes(url, channel, account, offers, seconds, rng):
    from integrations import shopconnect
    from integrations.models import Integration

    adapter = shopconnect.adapter_for(Integration.objects.get(name=f"{channel}-{account}"))
    changes = []
    stop = threading.Event()
    stop.deadline = float("inf")
    watcher = threading.Thread(
        target=watch_changes, args=(url, channel, account, changes, stop), daemon=True
    )
    watcher.start()
    start = time.monotonic()
    for i in range(seconds):
        offer = rng.choice(offers)
        stock = 5000 + i
        committed = change_stock(offer.pk, stock)
        changes.append(
            {
                "offer": offer.pk,
                "listing": listing_of(adapter, offer),
                "stock": stock,
                "committed": committed,
                "seen": None,
            }
        )
        time.sleep(max(0.0, start + i + 1 - time.monotonic()))
    stop.deadline = time.time() + SETTLE_SECONDS.get(channel, 60)
    stop.set()
    watcher.join(SETTLE_SECONDS.get(channel, 60) + 30)
    return changes


def report(changes, label, integration):
    from offers.models import ChangeDelivery

    seen = [c["seen"] - c["committed"] for c in changes if c["seen"] is not None]
    lost = sum(1 for c in changes if c["seen"] is None)
    deliveries = ChangeDelivery.objects.filter(
        integration=integration, offer_id__in=[c["offer"] for c in changes], group="stock"
    ).values_list("seconds", flat=True)
    print(f"- {label}: {len(changes)} changes, commit → channel holds it: {percentiles(seen)}")
    print(f"  not seen in time: {lost}; xSale's own figure (commit → confirmation): "
          f"{percentiles(list(deliveries))}")  # fmt: skip


def load():
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def setup(url, channel, account, offers_count, prefix):
    from offers.models import Offer
    from tests.catalogue import make_offers, sandbox_integration

    class Sandbox:
        def integration_urls(self, channel, account):
            from integrations.services.demo import sandbox_integration_urls

            return sandbox_integration_urls(channel, account, url)

    h.sandbox_configure(url, channel, account, latency_ms=LATENCY_MS)
    fields = {}
    if channel == "amazon":
        seller = h.sandbox_state(url, channel, account, offers=False)["seller_id"]
        fields["channel_settings"] = {"seller_id": seller, "product_type": "HOME"}
    integration = sandbox_integration(Sandbox(), account, channel, **fields)
    make_offers(integration, offers_count, prefix=prefix)
    offers = list(Offer.objects.filter(channels__integration=integration).order_by("pk"))
    if channel == "mirakl":  # OF01 PARTIAL_UPDATE changes offers the shop holds
        seed_mirakl(url, account, integration, offers)
    return integration, offers


def seed_mirakl(url, account, integration, offers):
    import requests

    from integrations import shopconnect
    from offers.models import PendingChange

    adapter = shopconnect.adapter_for(integration)
    shop = [{"sku": listing_of(adapter, o), "price": str(o.price), "quantity": o.stock}
            for o in offers]  # fmt: skip
    requests.post(f"{url}/_sandbox/mirakl/{account}/seed", json={"offers": shop}, timeout=300)
    PendingChange.objects.filter(integration=integration).delete()


def awaiting_confirmation(integration, seconds=240):
    """Until the channel reported on every batch of changes (Mirakl's imports: OF02 once a
    minute), at most `seconds`."""
    from integrations.models import ChannelBatch

    deadline = time.monotonic() + seconds
    batches = ChannelBatch.objects.filter(integration=integration, recorded=False)
    while batches.exists() and time.monotonic() < deadline:
        time.sleep(1)


def quiet(url, channel, offers_count, seconds):
    print(f"\n## Everyday sync, quiet: {channel}, {offers_count} offers, one change a second "
          f"for {seconds} s, answers in {LATENCY_MS} ms ({load()})")  # fmt: skip
    account = f"quiet-{channel}"
    integration, offers = setup(url, channel, account, offers_count, f"Q{channel[:2].upper()}")
    sync = h.Process([sys.executable, "manage.py", "run_sync"], name=f"sync-{channel}")
    try:
        time.sleep(2)
        changes = drive_changes(url, channel, account, offers, seconds, random.Random(26))
        awaiting_confirmation(integration)
    finally:
        sync.stop()
    report(changes, "quiet", integration)
    if channel == "mirakl":
        from integrations.models import ChannelBatch

        imports = ChannelBatch.objects.filter(integration=integration).order_by("pk")
        print(f"  imports: {[(b.operation, len(b.offers), b.status) for b in imports]}")
    counters = h.sandbox_state(url, channel, account, offers=False)["counters"]
    print(f"  limits exceeded (sandbox): {counters.get('limit_violations', 0)} ({load()})")


def with_resync(url, offers_count, seconds):
    from integrations.services.runs import start_resync
    from offers.models import Offer

    channel = "allegro"
    print(f"\n## Everyday sync beside a full resync: allegro, {offers_count} offers, one change "
          f"a second for {seconds} s, answers in {LATENCY_MS} ms ({load()})")  # fmt: skip
    account = "resync-allegro"
    integration, offers = setup(url, channel, account, offers_count, "RSA")
    sync = h.Process([sys.executable, "manage.py", "run_sync"], name="sync-resync")
    worker = h.start_resync_worker(workers=1)
    try:
        with h.Sweeper():
            time.sleep(3)
            run = start_resync(integration, user=None, source="cli")
            time.sleep(5)  # the resync is under way
            changes = drive_changes(url, channel, account, offers, seconds, random.Random(27))
            while True:
                run.refresh_from_db()
                if not run.is_active:
                    break
                time.sleep(1)
            # The last changes' pending work (and anything the resync re-queued) goes.
            from offers.models import PendingChange

            deadline = time.monotonic() + 120
            while PendingChange.objects.filter(integration=integration, pending=True).exists():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
    finally:
        worker.stop()
        sync.stop()
    print(f"- resync {run.status}: {run.sent} sent, {run.failed} failed, "
          f"{(run.finished_at - run.started_at).total_seconds():.0f} s")  # fmt: skip
    report(changes, "beside the resync", integration)
    held = held_stocks(url, channel, account)
    wrong = [
        o.sku
        for o in Offer.objects.filter(channels__integration=integration)
        if held.get(o.channels.get().external_id) != o.stock
    ]
    counters = h.sandbox_state(url, channel, account, offers=False)["counters"]
    print(f"  offers not holding the newest stock at the end: {len(wrong)} of {len(offers)}")
    print(f"  limits exceeded (sandbox): {counters.get('limit_violations', 0)}, 429 answered "
          f"{counters.get('throttled', 0)} ({load()})")  # fmt: skip


def main(argv):
    which = [a for a in argv if not a.startswith("--") and not a[0].isdigit()]
    options = dict(zip(argv[::1], argv[1::1], strict=False))
    offers_count = int(options.get("--offers", 3000))
    seconds = int(options.get("--seconds", 30))
    channel = options.get("--channel", "allegro")
    which = [w for w in which if w in ("quiet", "resync")] or ["quiet", "resync"]
    h.setup_django()
    sandbox, url = h.start_sandbox()
    try:
        if "quiet" in which:
            quiet(url, channel, offers_count, seconds)
        if "resync" in which:
            with_resync(url, offers_count, seconds)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
