"""Everyday sync under load (issue 26, must show). Prints figures; asserts nothing.

200,000 offers over five integrations — Allegro (two sellers), Zalando, WooCommerce, Amazon: the
four channels with an everyday path (Mirakl's changes wait for its next resync) — on PostgreSQL
(its own database, `bench_sync_load` on 127.0.0.1:5432, dropped and created) and Redis (DB 9,
flushed: the budgets' store), the sandbox answering in 50 ms at each channel's published limits.
The offers are seeded through the catalogue's bulk import path (`offers/importing`, as
`manage.py import_offers` writes them), their pending work then cleared: as if a resync had
just delivered everything. The `sync` process (`manage.py run_sync`) runs; 1,000 catalogue
changes a minute (three in four a new stock, one in four a new price within ±20 %) on random
offers of all five integrations, each committed as the import commits (the offer and its
pending work in one transaction), for 10 minutes. Then the figures:

- per integration: commit → the channel's confirmation (`ChangeDelivery`, what the pages show),
  p50 / p95 / max, deliveries and changes; the sandbox's limit violations;
- the dispatcher's (run_sync's process group) CPU (seconds, % of one core) and peak memory
  (VmHWM), sampled from /proc every 0.5 s;
- at the end, the changed stocks the channels do not hold (read from the sandbox).

Usage: .venv/bin/python bench/everyday_sync_load.py [--offers 200000] [--minutes 10]
       [--per-minute 1000]        (shrink --offers and --minutes for a smoke run)
"""

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

DATABASE = "bench_sync_load"
REDIS_URL = "redis://127.0.0.1:6379/9"
LATENCY_MS = 50
# (integration name suffix, channel): five integrations over the four channels.
INTEGRATIONS = [
    ("allegro-1", "allegro"),
    ("allegro-2", "allegro"),
    ("zalando", "zalando"),
    ("woocommerce", "woocommerce"),
    ("amazon", "amazon"),
]


def fresh_stores():
    """The bench's own PostgreSQL database and Redis DB index 9, emptied."""
    pg = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["dropdb", *pg, "--if-exists", "--force", DATABASE], check=True)
    subprocess.run(["createdb", *pg, DATABASE], check=True)
    subprocess.run(["redis-cli", "-n", "9", "flushdb"], check=True, capture_output=True)
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
    os.environ["REDIS_URL"] = REDIS_URL


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def percentiles(values) -> str:
    if not values:
        return "—"
    ranked = sorted(values)

    def at(q):
        return ranked[min(len(ranked) - 1, max(0, int(q * len(ranked) + 0.999999) - 1))]

    return f"p50 {at(0.5):.2f} s, p95 {at(0.95):.2f} s, max {ranked[-1]:.2f} s"


def make_integrations(url) -> list:
    from integrations.services.demo import sandbox_integration_urls
    from tests.catalogue import sandbox_integration

    class Sandbox:
        def integration_urls(self, channel, account):
            return sandbox_integration_urls(channel, account, url)

    made = []
    for suffix, channel in INTEGRATIONS:
        account = f"load-{suffix}"
        h.sandbox_configure(url, channel, account, latency_ms=LATENCY_MS)
        fields = {}
        if channel == "amazon":
            seller = h.sandbox_state(url, channel, account, offers=False)["seller_id"]
            fields["channel_settings"] = {"seller_id": seller, "product_type": "HOME"}
        made.append((sandbox_integration(Sandbox(), account, channel, **fields), account))
    return made


def seed(integrations, offers_count) -> float:
    """The offers as an import file gives them, one integration each (in turn), written by the
    bulk import path; their pending work cleared. Returns the seconds the import took."""
    from offers.importing.feed import import_lines
    from offers.models import PendingChange
    from tests.catalogue import ean13

    def lines():
        for n in range(1, offers_count + 1):
            integration = integrations[n % len(integrations)][0]
            yield json.dumps(
                {
                    "sku": f"LD{n:07d}",
                    "ean": ean13(n),
                    "name": f"Oferta {n}",
                    "description": f"<p>Opis oferty {n}</p>",
                    "price": f"{10 + n % 490}.99",
                    "currency": "PLN",
                    "stock": 1 + n % 50,
                    "parameters": [{"name": "Kolor", "value": "czerwony"}],
                    "photos": [],
                    "channels": [
                        {
                            "integration": integration.name,
                            "active": True,
                            "external_id": str(1000 + n),
                        }
                    ],
                }
            )

    started = time.monotonic()
    report = import_lines(lines(), base_dir=h.WORKDIR)
    took = time.monotonic() - started
    print(f"- seeded {report.created} offers by the import path in {took:.0f} s "
          f"({report.created / took:.0f} a second), {len(report.errors)} errors; "
          f"{PendingChange.objects.count()} pending rows cleared ({load()})")  # fmt: skip
    PendingChange.objects.all().delete()
    return took


def change(offer_id: int, rng) -> tuple[str, object]:
    """One catalogue change as the import commits it: a new stock (3 in 4) or a price within
    ±20 %, and its pending work, in one transaction. Returns (group, the new value)."""
    from django.db import transaction

    from offers import outbox
    from offers.models import Offer

    with transaction.atomic():
        offer = Offer.objects.select_for_update().only("stock", "price").get(pk=offer_id)
        if rng.random() < 0.75:
            group, value = "stock", rng.choice([s for s in range(1, 500) if s != offer.stock])
            Offer.objects.filter(pk=offer_id).update(stock=value)
        else:
            factor = Decimal(str(round(rng.uniform(0.8, 1.2), 2)))
            factor = Decimal("1.1") if factor == 1 else factor
            group, value = (
                "price",
                max(Decimal("1.00"), (offer.price * factor).quantize(Decimal("0.01"))),
            )
            Offer.objects.filter(pk=offer_id).update(price=value)
        outbox.record_changes([(offer_id, group)])
    return group, value


def drive(offer_ids, per_minute, minutes, changes, stop):
    from django.db import connection

    rng = random.Random(26)
    total = int(per_minute * minutes)
    interval = 60.0 / per_minute
    start = time.monotonic()
    late = 0.0
    try:
        for i in range(total):
            if stop.is_set():
                break
            offer_id = rng.choice(offer_ids)
            group, value = change(offer_id, rng)
            changes.append((offer_id, group, value, time.time()))
            wait = start + (i + 1) * interval - time.monotonic()
            late = max(late, -wait)
            if wait > 0:
                time.sleep(wait)
    finally:
        connection.close()
    print(f"- committed {len(changes)} changes in {time.monotonic() - start:.0f} s (most behind "
          f"the pace {late:.1f} s)")  # fmt: skip


def channel_stock(channel, data):
    if channel == "allegro":
        return (data.get("stock") or {}).get("available")
    if channel == "woocommerce":
        return data.get("stock_quantity")
    if channel == "zalando":
        return next(iter((data.get("stocks") or {}).values()), None)
    availability = (data.get("attributes") or {}).get("fulfillment_availability") or [{}]
    return availability[0].get("quantity")


def verify_stocks(url, integrations, changes) -> str:
    """Of the offers whose stock changed, those whose listing does not hold the catalogue's."""
    from integrations import shopconnect
    from integrations.shopconnect.base import OfferKeys
    from offers.models import OfferChannel

    changed = {offer_id for offer_id, group, _v, _t in changes if group == "stock"}
    wrong = checked = 0
    for integration, account in integrations:
        adapter = shopconnect.adapter_for(integration)
        held = h.sandbox_state(url, integration.channel, account)["offers"]
        links = OfferChannel.objects.filter(
            integration=integration, offer_id__in=changed
        ).select_related("offer")
        for link in links:
            listing = adapter.listing_key(OfferKeys.of(link))
            key = link.offer.ean if integration.channel == "zalando" else listing
            checked += 1
            if channel_stock(integration.channel, held.get(key) or {}) != link.offer.stock:
                wrong += 1
    return f"{wrong} of {checked}"


def report(url, integrations, changes, since, sampler, sync_pid):
    from offers.models import ChangeDelivery, OfferChannel, PendingChange

    by_offer = dict(
        OfferChannel.objects.filter(offer_id__in={c[0] for c in changes}).values_list(
            "offer_id", "integration_id"
        )
    )
    made = defaultdict(int)
    for offer_id, _group, _value, _at in changes:
        made[by_offer.get(offer_id)] += 1
    print("\n| integration | changes | deliveries | commit → confirmation | limits exceeded |")
    print("|---|---|---|---|---|")
    for integration, account in integrations:
        seconds = list(
            ChangeDelivery.objects.filter(integration=integration).values_list("seconds", flat=True)
        )
        counters = h.sandbox_state(url, integration.channel, account, offers=False)["counters"]
        print(f"| {integration.name} ({integration.channel}) | {made[integration.pk]} | "
              f"{len(seconds)} | {percentiles(seconds)} | "
              f"{counters.get('limit_violations', 0)} (429 answered "
              f"{counters.get('throttled', 0)}) |")  # fmt: skip
    every = list(ChangeDelivery.objects.values_list("seconds", flat=True))
    print(f"\n- all integrations: {percentiles(every)}; still pending "
          f"{PendingChange.objects.filter(pending=True).count()}")  # fmt: skip
    used = sampler.used()
    cpu = sum(used.values())
    wall = sampler.ended - sampler.started
    peak = max(sampler.rss_kib.values(), default=0)
    print(
        f"- the dispatcher (run_sync, pid {sync_pid}): CPU {cpu:.1f} s over {wall:.0f} s = "
        f"{100 * cpu / wall:.1f} % of one core; peak memory (VmHWM) {peak / 1024:.0f} MiB"
    )
    print(f"- changed stocks the channels do not hold at the end: "
          f"{verify_stocks(url, integrations, changes)} ({load()})")  # fmt: skip


def main(argv):
    options = dict(zip(argv, argv[1:], strict=False))
    offers_count = int(options.get("--offers", 200_000))
    minutes = float(options.get("--minutes", 10))
    per_minute = int(options.get("--per-minute", 1000))
    fresh_stores()
    h.setup_django()
    print(f"## Everyday sync under load: {offers_count} offers over {len(INTEGRATIONS)} "
          f"integrations, {per_minute} changes a minute for {minutes:g} min, PostgreSQL "
          f"{DATABASE} + Redis DB 9, answers in {LATENCY_MS} ms ({load()})")  # fmt: skip
    sandbox, url = h.start_sandbox()
    sync = None
    try:
        integrations = make_integrations(url)
        seed(integrations, offers_count)
        from offers.models import Offer, PendingChange

        offer_ids = list(Offer.objects.values_list("pk", flat=True))
        sync = h.Process([sys.executable, "manage.py", "run_sync"], name="sync-load")
        time.sleep(3)
        changes: list = []
        stop = threading.Event()
        since = time.time()
        with h.GroupSampler(sync.pid) as sampler:
            print(f"- changes start ({load()})")
            drive(offer_ids, per_minute, minutes, changes, stop)
            print(f"- changes end ({load()})")
            deadline = time.monotonic() + 180
            while PendingChange.objects.filter(pending=True).exists():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        report(url, integrations, changes, since, sampler, sync.pid)
    finally:
        if sync is not None:
            sync.stop()
        sandbox.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
