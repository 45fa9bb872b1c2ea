"""Drift check benchmark (issue #12). Prints figures; asserts nothing.

100,000 Allegro offers (created in bulk) and the sandbox's listings seeded as a resync would
have left them; the sandbox drifts ~5 % of them and enforces Allegro's published limits (app
9,000 requests/min, PATCH 2,490/min and 74,700/h, GET offer 3,500/min), our budgets pace by the
same numbers. Through a real `resync` worker cluster:

  1. a drift check of prices and stock (the offer list: 1,000 offers a request);
  2. a resync of only what differs (what the check suggests);
  3. a full resync of the 100,000 — estimated from the budgets with resync_estimate (running it
     takes over an hour at Allegro's limits), and the speed-up as a ratio;
  4. a content check (each offer read on its own) measured on 5,000 offers, and its pace
     extrapolated to 100,000.

Usage: .venv/bin/python bench/drift_check.py [--offers 100000] [--content-offers 5000]
"""

import argparse
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def make_integration(url, account):
    from integrations.models import Integration
    from integrations.services.demo import DEMO_CREDENTIALS

    base = f"{url}/allegro/{account}"
    return Integration.objects.create(
        name=f"allegro-{account}",
        channel="allegro",
        credentials=dict(DEMO_CREDENTIALS["allegro"]),
        api_url=base,
        upload_url=f"{base}/upload",
        auth_url=f"{base}/auth/oauth/token",
    )


def listing(n: int, prefix: str) -> dict:
    """Offer n of tests/catalogue.make_offers as Allegro holds it after a resync."""
    return {
        "id": str(1000 + n),
        "name": f"Oferta testowa {n}",
        "price": f"{n % 500}.99",
        "stock": n % 17,
        "external_id": f"{prefix}{n:06d}",
        "description": f"<p>Opis oferty {n}</p>",
        "parameters": [{"name": "Kolor", "values": ["czerwony"]}],
        "images": [f"https://upload.example/allegro/{n}.jpg"],
    }


def prepare(url, account, count, prefix):
    from tests.catalogue import make_offers

    t0 = time.monotonic()
    integration = make_integration(url, account)
    make_offers(integration, count, prefix=prefix)
    created = time.monotonic() - t0
    t0 = time.monotonic()
    for start in range(1, count + 1, 10_000):
        batch = [listing(n, prefix) for n in range(start, min(start + 10_000, count + 1))]
        requests.post(
            f"{url}/_sandbox/allegro/{account}/seed", json={"offers": batch}, timeout=120
        ).raise_for_status()
    print(
        f"- {count:,} offers created in bulk in {created:.0f} s; sandbox seeded in "
        f"{time.monotonic() - t0:.1f} s",
        flush=True,
    )
    return integration


def drift(url, account, **shares) -> dict:
    response = requests.post(f"{url}/_sandbox/allegro/{account}/drift", json=shares, timeout=60)
    response.raise_for_status()
    return response.json()


def wait(run, poll=0.5):
    while True:
        run.refresh_from_db()
        if not run.is_active:
            return run, (run.finished_at - run.started_at).total_seconds()
        time.sleep(poll)


def main(offers: int, content_offers: int):
    from integrations.services import drift as drift_service
    from integrations.services.estimates import resync_estimate
    from integrations.shopconnect import budgets

    budgets.store().clear()
    sandbox, url = h.start_sandbox()
    worker = h.start_resync_worker()
    sweeper = h.Sweeper().__enter__()  # wakes paused runs every 5 s, as `run_cluster` does
    try:
        print(f"\n## Drift check vs full resync, {offers:,} Allegro offers, Allegro's limits")
        integration = prepare(url, "drift", offers, "D")
        # Edits made by hand on Allegro: 3 % of prices, 2 % of stock; 50 listings ended and
        # removed, 20 listed outside xSale.
        answer = drift(url, "drift", price_share=0.03, stock_share=0.02, remove=50,
                       add_unknown=20, seed=12)  # fmt: skip
        changed = {c["id"] for f in answer["changes"].values() for c in f}
        print(
            f"- drift: {len(changed):,} listings changed "
            + ", ".join(f"{f} {len(c):,}" for f, c in answer["changes"].items() if c)
            + f"; {len(answer['removed'])} removed, {len(answer['added'])} unknown added",
            flush=True,
        )
        check, check_s = wait(
            drift_service.start_check(
                integration, user=None, source="cli", data_types="prices_stock"
            )
        )
        report = check.report
        print(
            f"- check (prices and stock, from the offer list): {check.status} in {check_s:.1f} s; "
            f"found differs {report['differs']:,} {report['fields']}, missing "
            f"{report['missing']}, unknown {report['unknown']}",
            flush=True,
        )
        state = h.sandbox_state(url, "allegro", "drift")["counters"]["by_endpoint"]
        print(f"  requests: {state}")
        suggested = drift_service.suggested_data_types(check)
        fix, fix_s = wait(drift_service.start_fix(check, user=None, source="cli"))
        print(
            f"- resync of what differs ({suggested}): {fix.status}, {fix.sent:,} sent, "
            f"{fix.failed} failed (the removed listings), in {fix_s:.1f} s",
            flush=True,
        )
        full = resync_estimate(integration, offers)
        full_ps = resync_estimate(integration, offers, data_types="prices_stock")
        ours = check_s + fix_s
        print(
            f"- full resync of {offers:,} (estimated from the budgets, not run): "
            f"{full.seconds / 60:.0f} min (bound by {full.binding}); prices and stock only "
            f"{full_ps.seconds / 60:.0f} min"
        )
        print(
            f"- check + resync of what differs: {ours:.0f} s → speed-up {full.seconds / ours:.0f}× "
            f"(vs a prices-and-stock full resync: {full_ps.seconds / ours:.0f}×)"
        )
        counters = h.sandbox_state(url, "allegro", "drift")["counters"]
        print(
            f"- sandbox: 429 answered {counters['throttled']}, limit violations "
            f"{counters['limit_violations']}",
            flush=True,
        )

        print(f"\n## Content check (each offer read: GET /sale/product-offers/{{id}}), "
              f"{content_offers:,} offers")  # fmt: skip
        content = prepare(url, "drift-content", content_offers, "C")
        drift(url, "drift-content", description_share=0.02, seed=3)
        run, seconds = wait(drift_service.start_check(content, user=None, source="cli"))
        reads = h.sandbox_state(url, "allegro", "drift-content")["counters"]
        per_minute = run.report["offers"] / seconds * 60
        print(
            f"- {run.status} in {seconds:.0f} s: {per_minute:,.0f} offers read/min "
            f"({100 * per_minute / 3500:.0f} % of Allegro's 3,500/min); differs "
            f"{run.report['differs']} {run.report['fields']}; 429 {reads['throttled']}, "
            f"violations {reads['limit_violations']}"
        )
        if per_minute:  # `--content-offers 0` skips the content check
            print(
                f"- a content check of {offers:,} at that pace: {offers / per_minute:.0f} min "
                f"(vs {full.seconds / 60:.0f} min for the full resync)"
            )
    finally:
        sweeper.__exit__()
        worker.stop()
        sandbox.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--content-offers", type=int, default=5_000)
    args = parser.parse_args()
    h.setup_django()
    from django.utils import translation

    translation.activate("en")  # the figures' labels (budget names) in English
    main(args.offers, args.content_offers)
