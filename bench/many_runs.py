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
           stock of every offer afterwards against the catalogue (prices_by_commands.py).

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
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from prices_by_commands import bench_prices, prices_limits  # noqa: E402
from resync_runs import (  # noqa: E402
    ALLEGRO_SECRETS,
    APP,
    EDITS,
    SANDBOX_APP,
    drive_runs,
    fresh_postgres,
    load_average,
    make_integration,
    print_cpu,
    print_pause_counts,
    requests_per,
    scaled,
    seed,
)


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
    prices.add_argument(
        "--distinct-prices", action="store_true", help="every offer its own price (computed)"
    )
    return parser.parse_args()


ARGS = parse_args()
if ARGS.setup == "postgres":
    fresh_postgres("bench17")
if ARGS.bench == "sellers" and ARGS.scale > 1:
    # Time shrunk: the app's window and each seller's edit windows, counts and seconds alike.
    LIMITS = {
        "allegro": {
            "app": [scaled(ARGS.limit, ARGS.window, ARGS.scale)],
            "edits": [scaled(EDITS[0], 60, ARGS.scale), scaled(EDITS[1], 3600, ARGS.scale)],
        }
    }
elif ARGS.bench == "sellers":
    LIMITS = {"allegro": {"app": [[ARGS.limit, ARGS.window]]}}
elif ARGS.bench == "edits":
    LIMITS = {"allegro": {"edits": [[ARGS.minute, 60], [ARGS.long, ARGS.long_seconds]]}}
else:
    LIMITS = prices_limits(ARGS.scale)
os.environ["CHANNEL_LIMITS"] = json.dumps(LIMITS)

# --- sellers: many sellers on one app --------------------------------------------------------


def bench_sellers(url):
    from integrations.models import ResyncRun
    from integrations.services.runs import start_resync

    client_id = "bench-17"
    accounts = [f"s{n:02d}" for n in range(ARGS.sellers)]
    app_limit, app_window = scaled(ARGS.limit, ARGS.window, ARGS.scale)
    per_second = app_limit / app_window
    print(
        f"\n## {ARGS.sellers} Allegro sellers on one app: app limit {app_limit} per "
        f"{app_window} s (= {per_second:.0f}/s; time shrunk {ARGS.scale}×: seller edits "
        f"{scaled(EDITS[0], 60, ARGS.scale)} and {scaled(EDITS[1], 3600, ARGS.scale)} [count, s]), "
        f"{ARGS.offers} offers each with "
        f"{ARGS.photos} photo(s), sandbox latency {ARGS.latency} ms, one resync cluster with "
        f"Q_RESYNC_WORKERS={ARGS.workers}, RESYNC_RUNS_PER_WORKER="
        f"{os.environ.get('RESYNC_RUNS_PER_WORKER', '10 (default)')}, {ARGS.setup}"
    )
    secrets = {"client_id": client_id, **ALLEGRO_SECRETS}
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
                "patch_per_minute": scaled(EDITS[0], 60, ARGS.scale)[0],
                "patch_per_hour": scaled(EDITS[1], 3600, ARGS.scale)[0],
            },
            latency_ms=ARGS.latency,
            keep_offers=False,
        )
        integration = make_integration(url, "allegro", account, credentials=secrets)
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
    driven = drive_runs(
        lambda: [start_resync(i, source=ResyncRun.Source.ADMIN) for i in integrations],
        workers=ARGS.workers,
        timeout=ARGS.timeout,
        what="the runs",
    )
    done, watcher, sampler, t0 = driven.runs, driven.watcher, driven.sampler, driven.started_at
    names = {pk: run.integration.api_url.rsplit("/", 1)[-1] for pk, run in done.items()}
    states = {a: h.sandbox_state(url, "allegro", a) for a in accounts}
    app = h.allegro_app_state(url, client_id)
    print(f"- all runs ended: {driven.ended}; {ARGS.sellers} starts took {driven.pressed:.2f} s")
    firsts, finishes = {}, {}
    for pk, run in sorted(done.items()):
        account = names[pk]
        stamps = [o["updated_at"] for o in states[account]["offers"].values() if "updated_at" in o]
        firsts[account] = min(stamps) - t0 if stamps else float("nan")
        finishes[account] = run.finished_at.timestamp() - t0 if run.finished_at else float("nan")
        shown = watcher.first_shown.get(pk, float("nan")) - t0
        print(
            f"    {account}: {run.status}, {run.sent} sent, {run.failed} failed; first offer "
            f"at +{firsts[account]:.1f} s, last at +{max(stamps) - t0:.1f} s, finished at "
            f"+{finishes[account]:.1f} s; its page first showed progress at +{shown:.1f} s"
        )
    lags = [watcher.first_shown.get(pk, float("nan")) - t0 - firsts[names[pk]] for pk in done]
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
    span = (min(first_requests), max(last_requests))
    everyone = Counter()
    for hist in histograms:
        everyone.update(hist)
    print(f"- requests per 10 s, all sellers: {requests_per(everyone, *span, 10)}")
    for account, hist in zip(accounts, histograms, strict=True):
        print(f"    {account}: {requests_per(hist, *span, 10)}")
    print_cpu(sampler, f"the resync cluster (qcluster + {ARGS.workers} workers)")
    print_pause_counts(watcher, names)


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
    integration = make_integration(url, "allegro", account, credentials=SANDBOX_APP)
    seed(integration, ARGS.offers, prefix="E-", photos=0)
    driven = drive_runs(
        lambda: [start_resync(integration, source="cli")], workers=1, timeout=20 * 60
    )
    (run,) = driven.runs.values()
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
    print_pause_counts(driven.watcher, {run.pk: "the run"})


def main():
    h.setup_django()
    sandbox, url = h.start_sandbox()
    now = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    limits = json.dumps(LIMITS)
    print(f"{now} UTC, load average {load_average()} (1/5/15 min), CHANNEL_LIMITS={limits}")
    try:
        if ARGS.bench == "prices":
            bench_prices(url, ARGS)
        else:
            {"sellers": bench_sellers, "edits": bench_edits}[ARGS.bench](url)
    finally:
        sandbox.stop()
        print(f"load average at the end {load_average()}; logs in {h.WORKDIR}")


if __name__ == "__main__":
    main()
