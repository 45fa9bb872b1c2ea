"""Many runs at once, and prices and stock by commands (issues 17 and 18). Prints figures;
asserts nothing. The sandbox's own counters and timestamps are the judge.

  sellers  --sellers Allegro sellers on ONE app (sandbox accounts sharing one client id), each
           with --offers offers (--photos each: upload + PATCH), started together the way the
           admin's bulk action starts them (start_resync in a loop), on one resync cluster of
           --workers workers (RESYNC_RUNS_PER_WORKER as set, default 10), the sandbox answering
           in --latency ms: share of the app's limit used while the runs overlap, limits
           exceeded, each seller's first offer, last/first finish, the cluster's CPU and RSS.
           --scale N shrinks time N times (every window's seconds and count, the app's and
           each seller's edits, sandbox too), so 20 × 2,000 offers stand for 20 × 20,000.
  edits    one seller against two edit windows (--minute per 60 s, --long per --long-seconds;
           xSale through CHANNEL_LIMITS, the sandbox through hour_seconds): --offers PATCHes,
           first edit to last (sandbox timestamps) against the fastest schedule the windows allow.
  prices   a "prices and stock" resync of --offers Allegro offers (500 distinct prices, stocks
           0–50) at Allegro's limits, with time shrunk --scale times (every window's seconds
           and count divided by it, so the rates stay Allegro's), the sandbox carrying a command
           out --delay seconds (scaled too) after its PUT: time against the PATCH-only and the
           balanced-split bounds, limits exceeded, invalid requests, and the channel's price and
           stock of every offer afterwards against the catalogue.

Usage (from the project root; SECRET_KEY/DEBUG are set by the harness):
  python bench/many_runs.py sellers [--sellers 20] [--offers 300] [--photos 1] [--latency 100]
                                   [--scale 1]
  python bench/many_runs.py edits [--offers 3000] [--minute 600] [--long 1500] [--long-seconds 180]
  python bench/many_runs.py prices [--offers 20000] [--scale 1] [--delay 5]
  … [--setup sqlite|postgres] (postgres: database bench17, dropped and created; ORM broker,
  SQLite budget file)
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

PG_DB = "bench17"
PG_URL = f"postgres://postgres@127.0.0.1:5432/{PG_DB}"
ALLEGRO_SECRETS = {
    "client_secret": "sandbox-secret",
    "access_token": "sandbox-access",
    "refresh_token": "sandbox-refresh",
}
# Allegro's published limits (integrations/channels.py), per "minute" and "hour".
APP = 9_000
EDITS = (2_490, 74_700)
PRICE_COMMANDS = (9_000, 150_000)
QUANTITY_COMMANDS = (9_000, 250_000)
COMMAND_READS = 270_000


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", choices=["sqlite", "postgres"], default="sqlite")
    sub = parser.add_subparsers(dest="bench", required=True)
    sellers = sub.add_parser("sellers")
    sellers.add_argument("--sellers", type=int, default=20)
    sellers.add_argument("--offers", type=int, default=300, help="per seller")
    sellers.add_argument("--photos", type=int, default=1, help="per offer")
    sellers.add_argument("--latency", type=int, default=100, help="ms, every sandbox answer")
    sellers.add_argument("--workers", type=int, default=2)
    sellers.add_argument("--limit", type=int, default=APP, help="app requests per --window")
    sellers.add_argument("--window", type=int, default=60, help="the app's 'minute', seconds")
    sellers.add_argument("--timeout", type=int, default=900)
    sellers.add_argument(
        "--scale", type=int, default=1, help="every window's seconds and counts ÷ (sandbox too)"
    )
    edits = sub.add_parser("edits")
    edits.add_argument("--offers", type=int, default=3000)
    edits.add_argument("--minute", type=int, default=600)
    edits.add_argument("--long", type=int, default=1500)
    edits.add_argument("--long-seconds", type=int, default=180)
    prices = sub.add_parser("prices")
    prices.add_argument("--offers", type=int, default=20_000)
    prices.add_argument("--scale", type=int, default=1, help="windows' seconds and counts ÷")
    prices.add_argument("--delay", type=float, default=5.0, help="command_delay_seconds (real)")
    prices.add_argument("--workers", type=int, default=2)
    return parser.parse_args()


ARGS = parse_args()
if ARGS.setup == "postgres":
    pg = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["dropdb", *pg, "--if-exists", "--force", PG_DB], check=True)
    subprocess.run(["createdb", *pg, PG_DB], check=True)
    os.environ["DATABASE_URL"] = PG_URL


def scaled(count, seconds):
    return [round(count / ARGS.scale), seconds // ARGS.scale]


if ARGS.bench == "sellers" and ARGS.scale > 1:
    # Time shrunk: the app's window and each seller's edit windows, counts and seconds alike.
    LIMITS = {
        "allegro": {
            "app": [scaled(ARGS.limit, ARGS.window)],
            "edits": [scaled(EDITS[0], 60), scaled(EDITS[1], 3600)],
        }
    }
elif ARGS.bench == "sellers":
    LIMITS = {"allegro": {"app": [[ARGS.limit, ARGS.window]]}}
elif ARGS.bench == "edits":
    LIMITS = {"allegro": {"edits": [[ARGS.minute, 60], [ARGS.long, ARGS.long_seconds]]}}
elif ARGS.scale > 1:
    LIMITS = {
        "allegro": {
            "app": [scaled(APP, 60)],
            "edits": [scaled(EDITS[0], 60), scaled(EDITS[1], 3600)],
            "price_commands": [scaled(PRICE_COMMANDS[0], 60), scaled(PRICE_COMMANDS[1], 3600)],
            "quantity_commands": [
                scaled(QUANTITY_COMMANDS[0], 60),
                scaled(QUANTITY_COMMANDS[1], 3600),
            ],
            "command_reads": [scaled(COMMAND_READS, 60)],
        }
    }
else:
    LIMITS = {}
os.environ["CHANNEL_LIMITS"] = json.dumps(LIMITS)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

# --- helpers ---------------------------------------------------------------------------------


def make_integration(url, account, client_id="sandbox-client"):
    from integrations.models import Integration
    from integrations.services.demo import DEMO_CREDENTIALS, sandbox_integration_urls

    return Integration.objects.create(
        name=f"allegro-{account}",
        channel="allegro",
        credentials={**DEMO_CREDENTIALS["allegro"], "client_id": client_id, **ALLEGRO_SECRETS},
        **sandbox_integration_urls("allegro", account, url),
    )


def seed(integration, count, *, prefix, start=1, photos=0):
    from tests.catalogue import make_offers

    make_offers(integration, count, prefix=prefix, start=start, photos=photos)


# Run id → when its page first showed an offer processed (wait_for_runs).
FIRST_SHOWN: dict[int, float] = {}


def wait_for_runs(run_ids, timeout):
    """Poll every 0.25 s until every run ended; count the pauses and their reasons."""
    from django.db import connection

    from integrations.models import ResyncRun

    pauses = {pk: Counter() for pk in run_ids}
    last = dict.fromkeys(run_ids)
    end = time.time() + timeout
    ended = False
    # What a seller's page shows as processed: with the chunk under way's answered offers
    # where the run records them (ResyncRun.in_flight), else the recorded ones alone.
    shown = ["processed"]
    if any(f.name == "in_flight" for f in ResyncRun._meta.get_fields()):
        shown.append("in_flight")
    while time.time() < end:
        rows = ResyncRun.objects.filter(pk__in=run_ids).values_list(
            "pk", "status", "pause_reason", *shown
        )
        active = False
        for pk, status, reason, *counts in rows:
            if sum(counts) and pk not in FIRST_SHOWN:
                FIRST_SHOWN[pk] = time.time()
            if status == ResyncRun.Status.PAUSED and last[pk] != (status, reason):
                pauses[pk][reason.split(" — ")[0]] += 1
            last[pk] = (status, reason)
            active |= status not in ("completed", "failed", "cancelled")
        connection.close()
        if not active:
            ended = True
            break
        time.sleep(0.25)
    return ended, pauses


def runs_by_pk(ids):
    from integrations.models import ResyncRun

    return {r.pk: r for r in ResyncRun.objects.filter(pk__in=ids).select_related("integration")}


def print_pauses(pauses, names):
    paused = {pk: c for pk, c in pauses.items() if c}
    if not paused:
        print("- no run paused")
        return
    for pk, kinds in paused.items():
        for reason, n in kinds.items():
            print(f"- {names[pk]} paused {n} × “{reason}”")


def print_cpu(sampler, label):
    used = sampler.used()
    seconds = sampler.ended - sampler.started
    total = sum(used.values())
    print(
        f"- CPU of {label} (user + sys, /proc/<pid>/stat): {total:.1f} s in {seconds:.0f} s = "
        f"**{100 * total / seconds:.0f}% of one core** (the machine has {os.cpu_count()})"
    )
    for pid in sorted(used, key=used.get, reverse=True):
        print(
            f"    pid {pid}: {used[pid]:.1f} s ({100 * used[pid] / seconds:.0f}%), peak RSS "
            f"{sampler.rss_kib.get(pid, 0) / 1024:.1f} MiB — {sampler.names.get(pid, '')}"
        )


def load():
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


# --- sellers: many sellers on one app --------------------------------------------------------


def bench_sellers(url):
    from integrations.models import ResyncRun
    from integrations.services.runs import start_resync

    client_id = "bench-17"
    accounts = [f"s{n:02d}" for n in range(ARGS.sellers)]
    app_limit, app_window = scaled(ARGS.limit, ARGS.window)
    per_second = app_limit / app_window
    print(
        f"\n## {ARGS.sellers} Allegro sellers on one app: app limit {app_limit} per "
        f"{app_window} s (= {per_second:.0f}/s; time shrunk {ARGS.scale}×: seller edits "
        f"{scaled(EDITS[0], 60)} and {scaled(EDITS[1], 3600)} [count, s]), "
        f"{ARGS.offers} offers each with "
        f"{ARGS.photos} photo(s), sandbox latency {ARGS.latency} ms, one resync cluster with "
        f"Q_RESYNC_WORKERS={ARGS.workers}, RESYNC_RUNS_PER_WORKER="
        f"{os.environ.get('RESYNC_RUNS_PER_WORKER', '10 (default)')}, {ARGS.setup}"
    )
    integrations = []
    seeded = time.time()
    for n, account in enumerate(accounts):
        h.sandbox_configure(
            url,
            "allegro",
            account,
            credentials={"client_id": client_id},
            minute_seconds=app_window,
            hour_seconds=3600 // ARGS.scale,
            block_seconds=60 // ARGS.scale,  # Allegro's minute-long block after a 429
            limits={
                "app_requests_per_minute": app_limit,
                "patch_per_minute": scaled(EDITS[0], 60)[0],
                "patch_per_hour": scaled(EDITS[1], 3600)[0],
            },
            latency_ms=ARGS.latency,
            keep_offers=False,
        )
        integration = make_integration(url, account, client_id)
        seed(
            integration,
            ARGS.offers,
            prefix=f"S{n:02d}-",
            start=1 + n * ARGS.offers,
            photos=ARGS.photos,
        )
        integrations.append(integration)
    print(f"- seeded {ARGS.sellers * ARGS.offers} offers in {time.time() - seeded:.0f} s")
    import requests

    requests.post(f"{url}/_sandbox/allegro/_apps/{client_id}/reset", timeout=10)
    worker = h.start_resync_worker(workers=ARGS.workers, name="resync")
    time.sleep(4)  # let the cluster start
    print(f"- load average before the runs: {load()}")
    try:
        with h.Sweeper(), h.GroupSampler(worker.pid) as sampler:
            t0 = time.time()
            started = [start_resync(i, source=ResyncRun.Source.ADMIN) for i in integrations]
            pressed = time.time() - t0
            names = {r.pk: r.integration.api_url.rsplit("/", 1)[-1] for r in started}
            ended, pauses = wait_for_runs(list(names), ARGS.timeout)
        print(f"- load average at the end of the runs: {load()}")
    finally:
        worker.stop()
    done = runs_by_pk(names)
    states = {a: h.sandbox_state(url, "allegro", a) for a in accounts}
    app = h.allegro_app_state(url, client_id)
    print(f"- all runs ended: {ended}; {ARGS.sellers} starts took {pressed:.2f} s")
    firsts, finishes = {}, {}
    for pk, run in sorted(done.items()):
        account = names[pk]
        stamps = [o["updated_at"] for o in states[account]["offers"].values() if "updated_at" in o]
        firsts[account] = min(stamps) - t0 if stamps else float("nan")
        finishes[account] = run.finished_at.timestamp() - t0 if run.finished_at else float("nan")
        shown = FIRST_SHOWN.get(pk, float("nan")) - t0
        print(
            f"    {account}: {run.status}, {run.sent} sent, {run.failed} failed; first offer "
            f"at +{firsts[account]:.1f} s, last at +{max(stamps) - t0:.1f} s, finished at "
            f"+{finishes[account]:.1f} s; its page first showed progress at +{shown:.1f} s"
        )
    lags = [FIRST_SHOWN.get(pk, float("nan")) - t0 - firsts[names[pk]] for pk in done]
    print(
        f"- the page showed 0 after the channel had the run's first offer for at most "
        f"{max(lags):.1f} s (median {statistics.median(lags):.1f} s)"
    )
    histograms = [dict(map(tuple, states[a]["rate"]["per_second"])) for a in accounts]
    first_requests = [states[a]["rate"]["first_request_at"] for a in accounts]
    last_requests = [states[a]["rate"]["last_request_at"] for a in accounts]

    def used(start, end):
        seconds = list(range(int(start) + 1, int(end)))  # whole seconds inside
        total = sum(hist.get(s, 0) for hist in histograms for s in seconds)
        rate = total / len(seconds) if seconds else 0
        return len(seconds), total, rate

    n, total, rate = used(max(first_requests), min(last_requests))
    print(
        f"- while all {ARGS.sellers} runs were sending ({n} s, from the last first request to "
        f"the first last request): {total} requests = {rate:.1f}/s = "
        f"**{100 * rate / per_second:.1f}% of the app's limit**"
    )
    n, total, rate = used(min(first_requests), sorted(last_requests)[-2])
    print(
        f"- while at least two runs were sending ({n} s, from the first request to the "
        f"second-to-last run's last): {total} requests = {rate:.1f}/s = "
        f"**{100 * rate / per_second:.1f}% of the app's limit**"
    )
    n, total, rate = used(min(first_requests), max(last_requests))
    print(
        f"- from the first request to the last ({n} s): {total} requests = {rate:.1f}/s = "
        f"{100 * rate / per_second:.1f}%"
    )
    counters = app["counters"]
    name = "app_requests_per_minute"
    print(
        f"- sandbox, the app: {counters['requests']} requests; most in any {app_window} s "
        f"{counters['max_in_window'].get(name)} (limit {app_limit}); 429 answered "
        f"{counters['throttled']}; **limits exceeded {counters['limit_violations']}**"
    )
    worst_first = max(firsts.values())
    print(
        f"- each seller's first offer sent after +{min(firsts.values()):.1f} … "
        f"**+{worst_first:.1f} s** (target ≤ 15 s)"
    )
    first_end, last_end = min(finishes.values()), max(finishes.values())
    print(
        f"- runs finished between +{first_end:.0f} s and +{last_end:.0f} s: last/first "
        f"**{last_end / first_end:.2f}×** (target ≤ 1.5×)"
    )
    tens = []
    start = int(min(first_requests))
    for s0 in range(start, int(max(last_requests)) + 1, 10):
        tens.append(sum(hist.get(s, 0) for hist in histograms for s in range(s0, s0 + 10)))
    print(f"- requests per 10 s, all sellers: {tens}")
    for account, hist in zip(accounts, histograms, strict=True):
        own = [
            sum(hist.get(s, 0) for s in range(s0, s0 + 10))
            for s0 in range(start, int(max(last_requests)) + 1, 10)
        ]
        print(f"    {account}: {own}")
    print_cpu(sampler, f"the resync cluster (qcluster + {ARGS.workers} workers)")
    print_pauses(pauses, names)


# --- edits: one seller against two edit windows ----------------------------------------------


def fastest_schedule(offers, windows):
    """Seconds from the first edit to the last at best, the issue's way: edits at the shortest
    window's average pace (a minute's count spread over the minute, as a channel that counts
    sliding windows lets a client go), each also waiting until every window has room."""
    windows = sorted(windows, key=lambda w: w[1])
    pace = windows[0][1] / windows[0][0]
    times = []
    for i in range(offers):
        t = i * pace
        for count, seconds in windows:
            if i >= count:
                t = max(t, times[i - count] + seconds)
        times.append(max(t, times[-1] if times else 0.0))
    return times[-1] - times[0]


def bench_edits(url):
    from integrations.services.runs import start_resync

    account = "edits"
    windows = [(ARGS.minute, 60), (ARGS.long, ARGS.long_seconds)]
    print(
        f"\n## One seller, {ARGS.offers} PATCHes against {ARGS.minute}/60 s and "
        f"{ARGS.long}/{ARGS.long_seconds} s (sandbox = CHANNEL_LIMITS), {ARGS.setup}"
    )
    h.sandbox_configure(
        url,
        "allegro",
        account,
        hour_seconds=ARGS.long_seconds,
        limits={"patch_per_minute": ARGS.minute, "patch_per_hour": ARGS.long},
        keep_offers=False,
    )
    integration = make_integration(url, account)
    seed(integration, ARGS.offers, prefix="E-")
    worker = h.start_resync_worker(workers=1, name="resync")
    time.sleep(4)
    print(f"- load average before the run: {load()}")
    try:
        with h.Sweeper():
            run = start_resync(integration, source="cli")
            ended, pauses = wait_for_runs([run.pk], 20 * 60)
        print(f"- load average at the end: {load()}")
    finally:
        worker.stop()
    run = runs_by_pk([run.pk])[run.pk]
    st = h.sandbox_state(url, "allegro", account)
    stamps = sorted(o["updated_at"] for o in st["offers"].values())
    edits = Counter(o["edits"] for o in st["offers"].values())
    counters = st["counters"]
    span = stamps[-1] - stamps[0]
    bound = fastest_schedule(ARGS.offers, windows)
    print(
        f"- run {run.status}: {run.sent} sent, {run.failed} failed; listings edited "
        f"{dict(edits)} times (edits: listings)"
    )
    print(
        f"- first edit to last (sandbox): **{span:.1f} s** against the fastest the windows "
        f"allow, {bound:.0f} s: **{100 * span / bound:.1f}%** of the bound"
    )
    per_minute = [
        sum(1 for s in stamps if stamps[0] + m <= s < stamps[0] + m + 60)
        for m in range(0, int(span) + 1, 60)
    ]
    print(f"- edits per minute of the run: {per_minute}")
    per_ten = [
        sum(1 for s in stamps if stamps[0] + t <= s < stamps[0] + t + 10)
        for t in range(0, int(span) + 1, 10)
    ]
    print(f"- edits per 10 s: {per_ten}")
    gaps = [
        (stamps[i - 1] - stamps[0], stamps[i] - stamps[i - 1])
        for i in range(1, len(stamps))
        if stamps[i] - stamps[i - 1] >= 1.5
    ]
    print(
        "- gaps of 1.5 s or more between edits (s from the first edit, length): "
        + (", ".join(f"+{at:.1f} {gap:.1f} s" for at, gap in gaps) or "none")
    )
    for start, until in run.pauses:
        after = [s for s in stamps if s >= max(start, until - 5)]  # not those sent meanwhile
        resumed = f"+{after[0] - stamps[0]:.1f} s" if after else "never"
        print(
            f"- paused at +{start - stamps[0]:.1f} s until +{until - stamps[0]:.1f} s; "
            f"the next edit at {resumed}"
        )
    twice = sorted(int(i) for i, o in st["offers"].items() if o["edits"] > 1)
    if twice:
        print(f"- listings PATCHed more than once: {twice}")
    print(
        f"- sandbox: most in any 60 s {counters['max_in_window'].get('patch_per_minute')} "
        f"(limit {ARGS.minute}), in any {ARGS.long_seconds} s "
        f"{counters['max_in_window'].get('patch_per_hour')} (limit {ARGS.long}); 429 "
        f"{counters['throttled']}; limits exceeded {counters['limit_violations']}"
    )
    print_pauses(pauses, {run.pk: "the run"})


# --- prices: prices and stock by commands ----------------------------------------------------


def bench_prices(url):
    from django.db.models import F

    from integrations.channels import limits_for
    from integrations.models import ChannelBatch
    from integrations.services.runs import start_resync
    from integrations.shopconnect.budgets import balanced_split, seconds_to_spend
    from offers.models import Offer, OfferChannel

    account, s = "prices", ARGS.scale
    minute, hour = 60 // s, 3600 // s
    print(
        f"\n## Prices and stock of {ARGS.offers} Allegro offers by PATCH and commands, "
        f"Allegro's limits with time shrunk {s}× (minute {minute} s, hour {hour} s, counts ÷ {s})"
        f", command_delay_seconds {ARGS.delay / s:g}, {ARGS.setup}, Q_RESYNC_WORKERS="
        f"{ARGS.workers}"
    )
    h.sandbox_configure(
        url,
        "allegro",
        account,
        minute_seconds=minute,
        hour_seconds=hour,
        command_delay_seconds=ARGS.delay / s,
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
    integration = make_integration(url, account)
    seeded = time.time()
    seed(integration, ARGS.offers, prefix="P-")
    # make_offers gives 500 distinct prices (n % 500 + 0.99); stocks 0–50, spread evenly.
    Offer.objects.filter(channels__integration=integration).update(stock=F("id") * 7 % 51)
    offers = Offer.objects.filter(channels__integration=integration)
    prices = offers.values("price").distinct().count()
    zero = offers.filter(stock=0).count()
    print(
        f"- seeded in {time.time() - seeded:.0f} s: {prices} distinct prices, stocks "
        f"0–50 ({zero} offers with stock 0)"
    )
    edits = limits_for("allegro", "edits")
    commands = [limits_for("allegro", n) for n in ("price_commands", "quantity_commands")]
    patch_only = seconds_to_spend(ARGS.offers, edits)
    # The bound the issue states: Allegro's offers (offers × scale) at PATCH's average rate.
    real = ARGS.offers * s
    naive = (real / EDITS[1] * 3600 if real > EDITS[1] else real / EDITS[0] * 60) / s
    by_patch, balanced = balanced_split(ARGS.offers, edits, commands)
    worker = h.start_resync_worker(workers=ARGS.workers, name="resync")
    time.sleep(4)
    print(f"- load average before the run: {load()}")
    try:
        with h.Sweeper(), h.GroupSampler(worker.pid) as sampler:
            t0 = time.time()
            run = start_resync(integration, source="cli", data_types="prices_stock")
            ended, pauses = wait_for_runs([run.pk], 30 * 60)
        print(f"- load average at the end: {load()}")
    finally:
        worker.stop()
    run = runs_by_pk([run.pk])[run.pk]
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
        f"**{100 * total / balanced:.0f}%** of it"
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
    begin = int(st["rate"]["first_request_at"])
    chunks = [
        sum(histogram.get(x, 0) for x in range(b, b + step))
        for b in range(begin, int(st["rate"]["last_request_at"]) + 1, step)
    ]
    print(f"- requests per {step} s (the app allows {round(APP / s)}): {chunks}")
    print_cpu(sampler, "the resync cluster")
    print_pauses(pauses, {run.pk: "the run"})


def main():
    h.setup_django()
    sandbox, url = h.start_sandbox()
    now = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    print(f"{now} UTC, load average {load()} (1/5/15 min), CHANNEL_LIMITS={json.dumps(LIMITS)}")
    try:
        {"sellers": bench_sellers, "edits": bench_edits, "prices": bench_prices}[ARGS.bench](url)
    finally:
        sandbox.stop()
        print(f"load average at the end {load()}; logs in {h.WORKDIR}")


if __name__ == "__main__":
    main()
