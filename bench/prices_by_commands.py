"""`many_runs.py prices`: a "prices and stock" resync of Allegro offers by PATCH and commands
(issue 18), at Allegro's limits with time shrunk `--scale` times, the sandbox carrying a command
out `--delay` seconds (scaled too) after its PUT: time against the PATCH-only and the
balanced-split bounds, limits exceeded, invalid requests, and the channel's price and stock of
every offer afterwards against the catalogue. Prints figures; asserts nothing.
"""

import time
from collections import Counter
from decimal import Decimal

import harness as h
from resync_runs import (
    APP,
    COMMAND_READS,
    EDITS,
    PRICE_COMMANDS,
    QUANTITY_COMMANDS,
    SANDBOX_APP,
    drive_runs,
    make_integration,
    print_cpu,
    print_pause_counts,
    requests_per,
    scaled,
    seed,
)


def prices_limits(scale):
    """CHANNEL_LIMITS for the bench: Allegro's own (none set) or, time shrunk, all of them."""
    if scale <= 1:
        return {}
    return {
        "allegro": {
            "app": [scaled(APP, 60, scale)],
            "edits": [scaled(EDITS[0], 60, scale), scaled(EDITS[1], 3600, scale)],
            "price_commands": [
                scaled(PRICE_COMMANDS[0], 60, scale),
                scaled(PRICE_COMMANDS[1], 3600, scale),
            ],
            "quantity_commands": [
                scaled(QUANTITY_COMMANDS[0], 60, scale),
                scaled(QUANTITY_COMMANDS[1], 3600, scale),
            ],
            "command_reads": [scaled(COMMAND_READS, 60, scale)],
        }
    }


def full_cost_bound(integration, offers):
    """(offers by PATCH, seconds) of the full-cost split of this data at the run's limits, as
    the plan computes it per chunk of batch_chunk_size offers; None where the code has none."""
    try:
        from integrations.saleschannels.allegro.commands import split_cost
        from integrations.shopconnect.budget_estimates import cheapest_split
    except ImportError:  # main before issue 28 item 5
        return None
    from integrations.channels import limits_for

    names = ("app", "edits", "price_commands", "quantity_commands", "command_reads")
    limits = {name: limits_for("allegro", name) for name in names}
    total = offers.count()
    # The plan splits each chunk of batch_chunk_size offers (in id order) alike: the first
    # stands for the run.
    chunk = list(
        offers.order_by("id").values_list("price", "stock")[: integration.facts.batch_chunk_size]
    )
    commandable = [(price, stock) for price, stock in chunk if stock > 0]
    sizes = list(Counter(price for price, _ in commandable).values())
    stocks = len({stock for _, stock in commandable})
    cost = split_cost(
        sizes, stocks=stocks, by_patch=len(chunk) - len(commandable), scale=total / len(chunk)
    )
    by_patch, seconds = cheapest_split(len(commandable), cost, limits)
    return round((by_patch + len(chunk) - len(commandable)) * total / len(chunk)), seconds


def bench_prices(url, args):
    from django.db.models import F

    from integrations.channels import limits_for
    from integrations.models import ChannelBatch
    from integrations.services.runs import start_resync
    from integrations.shopconnect.budget_estimates import balanced_split, seconds_to_spend
    from offers.models import Offer, OfferChannel

    account, s = "prices", args.scale
    minute, hour = 60 // s, 3600 // s
    print(
        f"\n## Prices and stock of {args.offers} Allegro offers by PATCH and commands, "
        f"Allegro's limits with time shrunk {s}× (minute {minute} s, hour {hour} s, counts ÷ {s})"
        f", command_delay_seconds {args.delay / s:g}, {args.setup}, Q_RESYNC_WORKERS="
        f"{args.workers}"
    )
    h.sandbox_configure(
        url,
        "allegro",
        account,
        minute_seconds=minute,
        hour_seconds=hour,
        command_delay_seconds=args.delay / s,
        limits={
            "app_requests_per_minute": round(APP / s),
            "patch_per_minute": round(EDITS[0] / s),
            "patch_per_hour": round(EDITS[1] / s),
            "price_command_offers_per_minute": round(PRICE_COMMANDS[0] / s),
            "price_command_offers_per_hour": round(PRICE_COMMANDS[1] / s),
            "quantity_command_offers_per_minute": round(QUANTITY_COMMANDS[0] / s),
            "quantity_command_offers_per_hour": round(QUANTITY_COMMANDS[1] / s),
            "command_reads_per_minute": round(COMMAND_READS / s),
        },
    )
    integration = make_integration(url, "allegro", account, credentials=SANDBOX_APP)
    seeded = time.time()
    seed(integration, args.offers, prefix="P-", photos=0)
    # make_offers gives 500 distinct prices (n % 500 + 0.99); stocks 0–50, spread evenly.
    Offer.objects.filter(channels__integration=integration).update(stock=F("id") * 7 % 51)
    if args.distinct_prices:  # computed prices: every offer its own (issue 28 item 5)
        Offer.objects.filter(channels__integration=integration).update(
            price=F("id") * Decimal("0.01") + Decimal("10.00")
        )
    offers = Offer.objects.filter(channels__integration=integration)
    prices = offers.values("price").distinct().count()
    zero = offers.filter(stock=0).count()
    print(
        f"- seeded in {time.time() - seeded:.0f} s: {prices} distinct prices, stocks "
        f"0–50 ({zero} offers with stock 0)"
    )
    edits = limits_for("allegro", "edits")
    commands = [limits_for("allegro", n) for n in ("price_commands", "quantity_commands")]
    patch_only = seconds_to_spend(args.offers, edits)
    # The bound the issue states: Allegro's offers (offers × scale) at PATCH's average rate.
    real = args.offers * s
    naive = (real / EDITS[1] * 3600 if real > EDITS[1] else real / EDITS[0] * 60) / s
    by_patch, balanced = balanced_split(args.offers, edits, commands)
    full = full_cost_bound(integration, offers)
    driven = drive_runs(
        lambda: [start_resync(integration, source="cli", data_types="prices_stock")],
        workers=args.workers,
        timeout=30 * 60,
    )
    (run,) = driven.runs.values()
    t0 = driven.started_at
    st = h.sandbox_state(url, "allegro", account)
    counters = st["counters"]
    total = run.finished_at.timestamp() - t0
    own = (run.finished_at - run.started_at).total_seconds()
    print(
        f"- run {run.status}: {run.sent} sent, {run.failed} failed, {run.awaiting} awaiting; "
        f"**{total:.1f} s** from the start (the run's own: {own:.1f} s)"
        + (f" = {total * s / 60:.1f} min at Allegro's scale" if s > 1 else "")
    )
    print(
        f"- bounds: PATCH alone {patch_only:.0f} s (the budget's schedule; the average rate "
        f"gives {naive:.0f} s) → **{100 * total / naive:.1f}%** of the average-rate bound; "
        f"balanced split {balanced:.0f} s ({by_patch} by PATCH) → "
        f"**{100 * total / balanced:.0f}%** of it; "
        + (
            f"the full-cost split's {full[1]:.0f} s ({full[0]} by PATCH) → "
            f"**{100 * total / full[1]:.0f}%** of it"
            if full
            else "(no full-cost split on this code)"
        )
    )
    by_endpoint = counters["by_endpoint"]
    patches = by_endpoint.get("PATCH /sale/product-offers/{offerId}", 0)
    cmd = counters["commands"]
    batches = ChannelBatch.objects.filter(run=run)
    print(
        f"- requests: {counters['requests']} in all; PATCH {patches}; commands price "
        f"{cmd['price']['accepted']} ({cmd['price']['offers']} offers), quantity "
        f"{cmd['quantity']['accepted']} ({cmd['quantity']['offers']} offers); "
        f"command_count {st['command_count']} vs ChannelBatch rows {batches.count()}"
    )
    print(f"- by endpoint: {by_endpoint}")
    print(
        f"- invalid: commands {cmd['price']['invalid']} + {cmd['quantity']['invalid']}, "
        f"conflicts {cmd['price']['conflicts']} + {cmd['quantity']['conflicts']}; by status "
        f"{counters['by_status']}; tasks failed {cmd['price']['failed']} + "
        f"{cmd['quantity']['failed']}"
    )
    print(
        f"- sandbox: most in each limit's window {counters['max_in_window']}; app "
        f"{st['app']['counters']['max_in_window']}; 429 {counters['throttled']}; "
        f"**limits exceeded {counters['limit_violations']}** "
        f"{counters.get('violations_by_limit') or ''} "
        f"(app {st['app']['counters']['limit_violations']})"
    )
    held = st["offers"]
    wrong_price = wrong_stock = missing = 0
    links = OfferChannel.objects.filter(integration=integration).select_related("offer")
    for link in links:
        listing = held.get(link.external_id)
        if listing is None:
            missing += 1
            continue
        amount = ((listing.get("sellingMode") or {}).get("price") or {}).get("amount")
        wrong_price += amount is None or Decimal(str(amount)) != link.offer.price
        wrong_stock += (listing.get("stock") or {}).get("available") != link.offer.stock
    print(
        f"- the channel afterwards vs the catalogue: {len(links)} offers, **{missing} missing, "
        f"{wrong_price} wrong prices, {wrong_stock} wrong stocks** (stock 0: {zero} offers)"
    )
    first = st["rate"]["first_request_at"] - t0
    last = st["rate"]["last_request_at"] - t0
    stamps = [o.get("updated_at", 0) for o in held.values()]
    rows = list(batches.values_list("created_at", "submitted_at", "finished_at"))
    timeline = {
        "first request": first,
        "last request": last,
        "last listing changed": max(stamps) - t0,
        "last batch written": max(r[0] for r in rows).timestamp() - t0 if rows else None,
        "last batch submitted": max(r[1] for r in rows if r[1]).timestamp() - t0 if rows else None,
        "last report read": max(r[2] for r in rows if r[2]).timestamp() - t0 if rows else None,
    }
    print(
        "- timeline (s from the start): "
        + ", ".join(f"{k} +{v:.1f}" for k, v in timeline.items() if v is not None)
    )
    histogram = dict(map(tuple, st["rate"]["per_second"]))
    step = max(1, minute)
    chunks = requests_per(
        histogram, st["rate"]["first_request_at"], st["rate"]["last_request_at"], step
    )
    print(f"- requests per {step} s (the app allows {round(APP / s)}): {chunks}")
    # When the listings no command carried changed (the PATCHes' pace, per 10 s).
    commanded = {
        listing for changes in batches.values_list("changes", flat=True)
        for listing in (changes.get("listings") or {}).values()
    }  # fmt: skip
    patched = [o.get("updated_at", 0) for key, o in held.items() if key not in commanded]
    start = st["rate"]["first_request_at"]
    per_ten = [0] * (int((max(patched, default=start) - start) // 10) + 1)
    for stamp in patched:
        per_ten[max(0, int((stamp - start) // 10))] += 1
    allowed = round(EDITS[0] / 6)
    print(f"- listings changed by PATCH per 10 s (the edits allow {allowed}): {per_ten}")
    print_cpu(driven.sampler, "the resync cluster")
    print_pause_counts(driven.watcher, {run.pk: "the run"})
