"""Everyday changes go first inside the shared budgets (issue 26 item 3). Prints figures;
asserts nothing.

A simulated Allegro seller: a resync spends the application's budget (9,000 a minute) and the
seller's edits (2,490 a minute, 74,700 an hour) with --threads requests in flight, each thread
asking again --latency seconds after its moment (a thread whose moment is more than
MAX_BUDGET_WAIT away waits for it and asks again, as a paused run does); after --warmup
seconds, one everyday change a second (--changes of them, priorities cycling zero stock,
stock, price, content) spends the same budgets. Printed: the changes' waits (p50/p95/max),
the resync's throughput over the same stretch with and without the changes, and without them
keeping no room (the budgets before priorities), and the most any real window of each budget
saw (sliding and fixed) against its limit.

  sim    a fake clock driving `budgets.decide` (exact, fast; real time, any length)
  store  real threads spending through the SQLite store (`budgets.spend`), real time with the
         windows and the pace shrunk --scale times (a "minute" of 60 / scale seconds)

Usage (from the project root):
  SECRET_KEY=bench DEBUG=0 .venv/bin/python bench/budget_priority.py sim [--threads 415]
  SECRET_KEY=bench DEBUG=0 .venv/bin/python bench/budget_priority.py store --scale 10
"""

import argparse
import heapq
import itertools
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xsale.settings")

CLASSES = ("ZERO_STOCK", "STOCK", "PRICE", "CONTENT")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["sim", "store"])
    parser.add_argument("--threads", type=int, default=415, help="the resync's requests in flight")
    parser.add_argument("--latency", type=float, default=0.1, help="a request's round trip, s")
    parser.add_argument("--warmup", type=float, default=90.0, help="resync alone first, s")
    parser.add_argument("--changes", type=int, default=30, help="one a second")
    parser.add_argument("--scale", type=float, default=10.0, help="store: time shrunk so much")
    return parser.parse_args()


def allegro_budgets(scale=1.0):
    from integrations.channels import Limit
    from integrations.shopconnect.budgets import Budget

    def window(count, seconds):
        return Limit(count, max(1, round(seconds / scale)))

    tag = f"{os.getpid()}-{time.time()}"
    app = Budget(f"bench-app-{tag}", (window(9_000, 60),), "app")
    edits = Budget(f"bench-edits-{tag}", (window(2_490, 60), window(74_700, 3600)), "edits")
    return [(app, 1), (edits, 1)]


def over_limit(spends, moments):
    """Windows of each budget's limits that saw more than the limit: (budget, limit, most)."""
    from integrations.shopconnect.budgets import windows_of
    from tests.budget_fixtures import most_in_a_fixed_window, most_in_any_window

    found = []
    for budget, _units in spends:
        for limit in windows_of(budget):
            most = most_in_any_window(moments, limit.seconds)
            for offset in (0.0, 0.37 * limit.seconds):
                most = max(most, most_in_a_fixed_window(moments, limit.seconds, offset))
            found.append((budget.label, limit, most))
    return found


def simulate(args, *, with_changes, resync="RUN"):
    """A fake clock: the resync's threads and the changes as events around `decide`."""
    from integrations.shopconnect.budgets import Priority, decide
    from integrations.shopconnect.http import MAX_BUDGET_WAIT

    spends = allegro_budgets()
    states, start = {}, 1_000_000.0
    events, order = [], itertools.count()
    for thread in range(args.threads):
        heapq.heappush(events, (start + thread * 1e-4, next(order), "run", None))
    change_at = start + args.warmup
    if with_changes:
        for k in range(args.changes):
            heapq.heappush(events, (change_at + k, next(order), "change", CLASSES[k % 4]))
    end = change_at + args.changes
    run_moments, all_moments, waits = [], [], []
    while events:
        now, _, kind, name = heapq.heappop(events)
        if kind == "run" and now >= end:
            continue
        priority = Priority[resync] if kind == "run" else Priority[name]
        grant, new = decide(states, spends, now, MAX_BUDGET_WAIT, priority)
        if not grant.granted:  # more than MAX_BUDGET_WAIT away: ask again when it is near
            heapq.heappush(events, (grant.at - MAX_BUDGET_WAIT, next(order), kind, name))
            continue
        states = new
        all_moments.append(grant.at)
        if kind == "run":
            run_moments.append(grant.at)
            heapq.heappush(events, (grant.at + args.latency, next(order), "run", None))
        else:
            waits.append(grant.at - now)
    ran = sum(1 for at in run_moments if change_at <= at < end)
    return ran / args.changes, waits, over_limit(spends, all_moments)


def spend_for_real(args, *, with_changes, resync="RUN"):
    """Real threads and the SQLite store, time shrunk `scale` times."""
    from integrations.shopconnect import budgets
    from integrations.shopconnect.budgets import Priority, spending_as
    from integrations.shopconnect.http import MAX_BUDGET_WAIT

    scale = args.scale
    spends = allegro_budgets(scale)
    start = time.time()
    change_at, end = start + args.warmup / scale, start + (args.warmup + args.changes) / scale
    lock = threading.Lock()
    run_moments, all_moments, waits = [], [], []

    def spend_one(priority):
        with spending_as(priority):
            while True:
                grant = budgets.spend(spends, max_wait=MAX_BUDGET_WAIT / scale)
                if grant.granted:
                    break
                time.sleep(max(0.0, grant.wait() - MAX_BUDGET_WAIT / scale))
        time.sleep(grant.wait())
        with lock:
            all_moments.append(grant.at)
        return grant

    def resync_thread():
        while time.time() < end:
            grant = spend_one(Priority[resync])
            with lock:
                run_moments.append(grant.at)
            time.sleep(args.latency / scale)

    def change(name):
        asked = time.time()
        grant = spend_one(Priority[name])
        with lock:
            waits.append((grant.at - asked) * scale)

    threads = [threading.Thread(target=resync_thread) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    changes = []
    if with_changes:
        for k in range(args.changes):
            time.sleep(max(0.0, change_at + k / scale - time.time()))
            changes.append(threading.Thread(target=change, args=(CLASSES[k % 4],)))
            changes[-1].start()
    for thread in threads + changes:
        thread.join()
    ran = sum(1 for at in run_moments if change_at <= at < end)
    return ran / args.changes, waits, over_limit(spends, all_moments)


def percentile(values, share):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(share * len(values)) - 1)]


def main():
    args = parse_args()
    if args.mode == "store":
        directory = tempfile.mkdtemp(prefix="budget-priority-")
        os.environ["BUDGET_STORE_PATH"] = str(Path(directory) / "budgets.sqlite3")
        os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings

    if args.mode == "store":
        settings.BUDGET_STORE_PATH = os.environ["BUDGET_STORE_PATH"]
        settings.REDIS_URL = ""
    run = simulate if args.mode == "sim" else spend_for_real
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    # The resync spending as a zero stock keeps no room for anyone: budgets before priorities.
    unhindered, _, _ = run(args, with_changes=False, resync="ZERO_STOCK")
    alone, _, alone_windows = run(args, with_changes=False)
    mixed, waits, mixed_windows = run(args, with_changes=True)
    per_second = "per second" if args.mode == "sim" else f"per second (× {args.scale:g} shrunk)"
    print(f"{args.mode}: {args.threads} resync threads, latency {args.latency} s")
    print(
        f"changes: {len(waits)}; wait p50 {percentile(waits, 0.5):.2f} s, "
        f"p95 {percentile(waits, 0.95):.2f} s, max {max(waits):.2f} s (real-time seconds)"
    )
    print(f"resync alone, keeping no room (as before priorities): {unhindered:.1f} {per_second}")
    print(f"resync alone: {alone:.1f} {per_second} ({alone / unhindered - 1:+.1%})")
    print(
        f"resync beside the changes: {mixed:.1f} {per_second} "
        f"({mixed - alone:+.1f}; the changes took {len(waits) / args.changes:.1f})"
    )
    over = sum(most > limit.count for _, limit, most in alone_windows + mixed_windows)
    for label, limit, most in mixed_windows:
        print(f"  {label} {limit.count}/{limit.seconds}s: most in any window {most}")
    print(f"windows over the limit: {over}")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
