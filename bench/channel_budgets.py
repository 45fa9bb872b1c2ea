"""Channel budgets counted the way the channels count them (issue #8). Prints figures; asserts
nothing. Every figure is a ratio measured in one run; the sandbox's own counters are the judge.

  app      three Allegro integrations on one Client ID (three sandbox accounts, one client id),
           resynced at once; the sandbox enforces the app budget, scaled down (--limit requests
           per --window-second "minute"); xSale gets the same numbers through CHANNEL_LIMITS.
           --setup sqlite: one resync cluster with two workers, SQLite + ORM broker, the budgets
           in the embedded SQLite file; --setup postgres: PostgreSQL + Redis (broker and
           budgets), two separate resync clusters of one worker each, as two machines run them.
  patch    one Allegro run against the seller's PATCH limits with a shrunk hour (--minute per
           60 s, --hour per --hour-seconds), for --seconds of the run: PATCHes sent vs the
           allowance, and how the run paused (its pause_reason, read while paused).
  zalando  a full Zalando resync (no photos) with Zalando's real limits enforced by the sandbox:
           offers/min vs the binding budget (product submissions, 25/s).
  spend    the cost of one spend (an Allegro PATCH's three budgets: app, seller edits,
           integration) at --rate spends/s from --processes × --threads, on Redis or on the
           embedded SQLite file: latency percentiles.

Usage (from the project root; SECRET_KEY/DEBUG are set by the harness):
  python bench/channel_budgets.py app --setup sqlite|postgres [--offers 1000]
  python bench/channel_budgets.py patch [--seconds 600] [--offers 6500]
  python bench/channel_budgets.py zalando [--offers 3000]
  python bench/channel_budgets.py spend --store redis|sqlite [--rate 150] [--seconds 20]

PostgreSQL (127.0.0.1, database bench_budgets, dropped and created) and Redis (db 11, flushed)
are local; nothing leaves 127.0.0.1.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from resync_runs import (  # noqa: E402
    ALLEGRO_SECRETS,
    Watcher,
    fresh_postgres,
    make_integration,
    print_pause_timeline,
    requests_per,
    runs_by_pk,
    seed,
)

REDIS_URL = "redis://127.0.0.1:6379/11"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="bench", required=True)
    app = sub.add_parser("app")
    app.add_argument("--setup", choices=["sqlite", "postgres", "postgres-orm"], default="sqlite")
    app.add_argument("--offers", type=int, default=1000, help="per integration (1 photo each)")
    app.add_argument("--limit", type=int, default=600, help="app requests per window")
    app.add_argument("--window", type=int, default=10, help="the app's 'minute', seconds")
    app.add_argument(
        "--workers", type=int, default=0, help="per cluster (default: sqlite 2, postgres 1)"
    )
    patch = sub.add_parser("patch")
    patch.add_argument("--seconds", type=int, default=600)
    patch.add_argument("--offers", type=int, default=6500)
    patch.add_argument("--minute", type=int, default=600)
    patch.add_argument("--hour", type=int, default=3000)
    patch.add_argument("--hour-seconds", type=int, default=300)
    zalando = sub.add_parser("zalando")
    zalando.add_argument("--offers", type=int, default=3000)
    spend = sub.add_parser("spend")
    spend.add_argument("--store", choices=["redis", "sqlite"], default="redis")
    spend.add_argument("--rate", type=float, default=150.0, help="spends/s in all")
    spend.add_argument("--seconds", type=float, default=20.0)
    spend.add_argument("--processes", type=int, default=2)
    spend.add_argument("--threads", type=int, default=4)
    spend.add_argument("--child", help=argparse.SUPPRESS)  # output file of a child process
    spend.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    spend.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args()


def fresh_postgres_and_redis(with_redis=True):
    """A new bench_budgets database and an empty Redis db 11 (ours alone)."""
    import redis

    fresh_postgres("bench_budgets")
    if with_redis:
        redis.Redis.from_url(REDIS_URL).flushdb()
        os.environ["REDIS_URL"] = REDIS_URL


ARGS = parse_args()
if ARGS.bench == "app" and ARGS.setup.startswith("postgres"):
    # postgres-orm: PostgreSQL with the ORM broker and the SQLite budget file (one machine),
    # to tell the Redis store's cost from PostgreSQL's.
    fresh_postgres_and_redis(with_redis=ARGS.setup == "postgres")
if ARGS.bench == "spend" and ARGS.store == "redis":
    os.environ["REDIS_URL"] = REDIS_URL
LIMITS = {
    "app": {"allegro": {"app": [[ARGS.limit, ARGS.window]]}} if ARGS.bench == "app" else {},
    "patch": {"allegro": {"edits": [[ARGS.minute, 60], [ARGS.hour, ARGS.hour_seconds]]}}
    if ARGS.bench == "patch"
    else {},
}.get(ARGS.bench, {})
os.environ["CHANNEL_LIMITS"] = json.dumps(LIMITS)

# --- app: three integrations, one Client ID --------------------------------------------------


def bench_app(url):
    from integrations.services.runs import start_resync

    client_id = "bench-app"
    accounts = ["app-a", "app-b", "app-c"]
    per_window = ARGS.limit / ARGS.window
    print(
        f"\n## Three Allegro integrations on one Client ID ({ARGS.setup}): app limit "
        f"{ARGS.limit} requests per {ARGS.window} s (= {per_window:.0f}/s), "
        f"{ARGS.offers} offers each, one photo (upload + PATCH)"
    )
    integrations = []
    for i, account in enumerate(accounts):
        h.sandbox_configure(
            url,
            "allegro",
            account,
            credentials={"client_id": client_id},
            minute_seconds=ARGS.window,
            limits={"app_requests_per_minute": ARGS.limit},
            keep_offers=False,
        )
        integration = make_integration(
            url, "allegro", account, credentials={"client_id": client_id, **ALLEGRO_SECRETS}
        )
        seed(integration, ARGS.offers, prefix=f"A{i}-", start=1 + i * ARGS.offers, photos=1)
        integrations.append(integration)
    import requests

    requests.post(f"{url}/_sandbox/allegro/_apps/{client_id}/reset", timeout=10)

    if ARGS.setup == "sqlite":
        n = ARGS.workers or 2
        workers = [h.start_resync_worker(workers=n, name="resync")]
        setup = f"one resync cluster, Q_RESYNC_WORKERS={n}, SQLite + ORM broker, SQLite budgets"
    else:
        n = ARGS.workers or 1
        workers = [h.start_resync_worker(workers=n, name=f"resync-{m}") for m in "ab"]
        setup = (
            f"two resync clusters, Q_RESYNC_WORKERS={n} each, PostgreSQL + Redis broker, "
            "Redis budgets"
            if ARGS.setup == "postgres"
            else f"two resync clusters, Q_RESYNC_WORKERS={n} each, PostgreSQL + ORM broker, "
            "SQLite budget file"
        )
    print(f"- {setup}")
    time.sleep(3)  # let the clusters start
    try:
        with h.Sweeper():
            started = [start_resync(i, source="cli") for i in integrations]
            names = {r.pk: r.integration.api_url.rsplit("/", 1)[-1] for r in started}
            watcher = Watcher(names)
            finished = watcher.wait(timeout=20 * 60)
            elapsed = time.time() - watcher.started
        cpu = sum(h.group_cpu_seconds(w.pid) for w in workers)
    finally:
        for worker in workers:
            worker.stop()
    done = runs_by_pk(names)
    app = h.allegro_app_state(url, client_id)
    states = {a: h.sandbox_state(url, "allegro", a, offers=False) for a in accounts}
    histograms = {a: dict(map(tuple, states[a]["rate"]["per_second"])) for a in accounts}
    first = max(states[a]["rate"]["first_request_at"] for a in accounts)
    last = min(states[a]["rate"]["last_request_at"] for a in accounts)
    seconds = list(range(int(first) + 1, int(last)))  # whole seconds all three were sending
    counts = {a: sum(histograms[a].get(s, 0) for s in seconds) for a in accounts}
    total = sum(counts.values())
    common = len(seconds)
    counters = app["counters"]
    name = "app_requests_per_minute"
    print(f"- all runs ended: {finished}")
    for pk, run in done.items():
        length = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0
        print(
            f"- {names[pk]}: {run.status}, {run.sent} sent, {run.failed} failed, "
            f"{length:.0f} s (first chunk to last)"
        )
    print(
        f"- sandbox, the app: {counters['requests']} requests, most in any {ARGS.window} s "
        f"window {counters['max_in_window'].get(name)} (limit {ARGS.limit}), "
        f"most in any 60 s {counters['max_in_60s'].get(name)}, 429 answered "
        f"{counters['throttled']}, limit violations {counters['limit_violations']}"
    )
    rate = total / common if common else 0
    print(
        f"- while all three ran ({common} s): {total} requests = {rate:.1f}/s = "
        f"**{100 * rate / per_window:.1f}% of the app limit**"
    )
    for a in accounts:
        share = counts[a] / total if total else 0
        print(
            f"- {a}: {counts[a]} requests = {100 * share:.1f}% of them "
            f"({100 * (3 * share - 1):+.1f}% from an equal third)"
        )
    tens = [
        "/".join(str(sum(histograms[a].get(s, 0) for s in seconds[i : i + 10])) for a in accounts)
        for i in range(0, common, 10)
    ]
    print(f"- requests per 10 s, a/b/c: {', '.join(tens)}")
    print(
        f"- CPU of the resync clusters: {cpu:.0f} s in {elapsed:.0f} s "
        f"({100 * cpu / elapsed:.0f}% of one core; the machine has {os.cpu_count()})"
    )
    spread = {a: counts[a] for a in accounts}
    if total:
        worst = max(abs(3 * n / total - 1) for n in spread.values())
        print(f"- largest deviation from an equal third: **{100 * worst:.1f}%**")
    print_pause_timeline(watcher, names)


# --- patch: the seller's PATCH limits with a shrunk hour -------------------------------------


def bench_patch(url):
    from integrations.services.runs import cancel_resync, start_resync

    account = "patch"
    allowance = ARGS.hour * ARGS.seconds / ARGS.hour_seconds
    per_minute = ARGS.minute * ARGS.seconds / 60
    print(
        f"\n## Allegro PATCH, shrunk hour: {ARGS.minute}/60 s and {ARGS.hour}/"
        f"{ARGS.hour_seconds} s, {ARGS.seconds} s of one run ({ARGS.offers} offers, no photos)"
    )
    h.sandbox_configure(
        url,
        "allegro",
        account,
        hour_seconds=ARGS.hour_seconds,
        limits={"patch_per_minute": ARGS.minute, "patch_per_hour": ARGS.hour},
        keep_offers=False,
    )
    integration = make_integration(url, "allegro", account)
    seed(integration, ARGS.offers, prefix="P-", photos=0)
    worker = h.start_resync_worker(workers=1, name="resync")
    time.sleep(3)
    try:
        with h.Sweeper():
            run = start_resync(integration, source="cli")
            watcher = Watcher([run.pk])

            def over():
                first = h.sandbox_state(url, "allegro", account, offers=False)["rate"][
                    "first_request_at"
                ]
                return first is not None and time.time() > first + ARGS.seconds + 1

            watcher.wait(timeout=ARGS.seconds + 300, until=over)
            cancel_resync(run)
            watcher.wait(timeout=60)
    finally:
        worker.stop()
    st = h.sandbox_state(url, "allegro", account, offers=False)
    counters = st["counters"]
    first = st["rate"]["first_request_at"]
    histogram = dict(map(tuple, st["rate"]["per_second"]))
    others = sum(n for e, n in counters["by_endpoint"].items() if not e.startswith("PATCH"))
    sent = sum(n for s, n in histogram.items() if int(first) <= s < int(first) + ARGS.seconds)
    sent -= others  # GET /me, once, at the start
    binding = min(allowance, per_minute)
    run = runs_by_pk([run.pk])[run.pk]
    print(
        f"- PATCHes in the first {ARGS.seconds} s of the run: {sent} of {binding:.0f} allowed "
        f"= **{100 * sent / binding:.1f}%** (the run: {run.status}, {run.sent} sent in all, "
        f"{run.failed} failed)"
    )
    print(
        f"- sandbox: most PATCHes in any 60 s {counters['max_in_window'].get('patch_per_minute')}"
        f" (limit {ARGS.minute}), in any {ARGS.hour_seconds} s "
        f"{counters['max_in_window'].get('patch_per_hour')} (limit {ARGS.hour}); 429 answered "
        f"{counters['throttled']}; limit violations {counters['limit_violations']}"
    )
    minutes = requests_per(histogram, first, int(first) + ARGS.seconds - 1, 60)
    print(f"- requests per minute of the run: {minutes}")
    print_pause_timeline(watcher, {run.pk: "the run"})


# --- zalando: a full resync at its real limits ------------------------------------------------


def bench_zalando(url):
    from integrations.services.runs import start_resync

    account = "zalando"
    print(f"\n## Zalando, real limits, {ARGS.offers} offers without photos")
    h.sandbox_configure(url, "zalando", account, keep_offers=False)
    integration = make_integration(url, "zalando", account)
    seed(integration, ARGS.offers, prefix="Z-", photos=0)
    worker = h.start_resync_worker(workers=1, name="resync")
    time.sleep(3)
    try:
        with h.Sweeper():
            run = start_resync(integration, source="cli")
            watcher = Watcher([run.pk])
            watcher.wait(timeout=15 * 60)
    finally:
        worker.stop()
    run = runs_by_pk([run.pk])[run.pk]
    counters = h.sandbox_state(url, "zalando", account, offers=False)["counters"]
    seconds = (run.finished_at - run.started_at).total_seconds()
    per_minute = run.sent / seconds * 60
    print(
        f"- run {run.status}: {run.sent} sent, {run.failed} failed in {seconds:.1f} s = "
        f"{per_minute:.0f} offers/min = **{100 * per_minute / 1500:.1f}% of the submissions "
        f"budget** (25/s = 1,500/min)"
    )
    print(
        f"- sandbox: most in one window {counters['max_in_window']}; by endpoint "
        f"{counters['by_endpoint']}; 429 answered {counters['throttled']}; "
        f"limit violations {counters['limit_violations']}"
    )
    print_pause_timeline(watcher, {run.pk: "the run"})


# --- spend: the cost of one spend -------------------------------------------------------------


def patch_budgets():
    """An Allegro PATCH's budgets (app, seller edits, integration), roomy: nobody waits."""
    from integrations.channels import Limit
    from integrations.shopconnect.budgets import Budget

    return [
        (Budget("bench:app", (Limit(10_000_000, 60),), "app"), 1),
        (Budget("bench:edits", (Limit(10_000_000, 60), Limit(100_000_000, 3600)), "edits"), 1),
        (Budget("bench:integration", (Limit(10_000_000, 60),), "integration"), 1),
    ]


def spend_child():
    import django

    django.setup()
    from integrations.shopconnect import budgets

    spends = patch_budgets()
    # Count the decisions: more than one per spend is a transaction retried (Redis WATCH).
    decisions = [0]
    decide = budgets.decide

    def counting_decide(*args, **kwargs):
        decisions[0] += 1
        return decide(*args, **kwargs)

    budgets.decide = counting_decide
    cpu = time.process_time()
    per_thread = ARGS.rate / (ARGS.processes * ARGS.threads)
    interval = 1 / per_thread
    count = int(ARGS.seconds * per_thread)
    results = [[] for _ in range(ARGS.threads)]
    waited = [0] * ARGS.threads

    def work(t):
        # Each thread on its own schedule, staggered so the spends are spread evenly.
        slot = ARGS.index * ARGS.threads + t
        offset = slot * interval / (ARGS.processes * ARGS.threads)
        for k in range(count):
            due = ARGS.start_at + offset + k * interval
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
            began = time.perf_counter()
            grant = budgets.spend(spends, max_wait=10)
            results[t].append(time.perf_counter() - began)
            waited[t] += grant.wait() > 0

    threads = [threading.Thread(target=work, args=(t,)) for t in range(ARGS.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies = [x for r in results for x in r]
    result = {
        "latencies": latencies,
        "waited": sum(waited),
        "decisions": decisions[0],
        "cpu": time.process_time() - cpu,
    }
    Path(ARGS.child).write_text(json.dumps(result))


def bench_spend():
    import django

    django.setup()
    from integrations.shopconnect import budgets

    store = budgets.store()
    store.clear()
    where = f"Redis ({REDIS_URL})" if ARGS.store == "redis" else f"SQLite file ({store.path})"
    print(
        f"\n## Cost of a spend: {ARGS.rate:.0f} spends/s from {ARGS.processes} processes × "
        f"{ARGS.threads} threads for {ARGS.seconds:.0f} s, {where}; each spend = an Allegro "
        "PATCH's three budgets (app, seller edits with minute and hour, integration)"
    )
    start_at = time.time() + 3
    outs = [h.WORKDIR / f"spend-{i}.json" for i in range(ARGS.processes)]
    children = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "spend",
                "--store",
                ARGS.store,
                "--rate",
                str(ARGS.rate),
                "--seconds",
                str(ARGS.seconds),
                "--processes",
                str(ARGS.processes),
                "--threads",
                str(ARGS.threads),
                "--child",
                str(out),
                "--start-at",
                str(start_at),
                "--index",
                str(i),
            ],
            cwd=h.ROOT,
        )
        for i, out in enumerate(outs)
    ]
    for child in children:
        child.wait()
    data = [json.loads(out.read_text()) for out in outs]
    latencies = sorted(x * 1000 for d in data for x in d["latencies"])
    waited = sum(d["waited"] for d in data)
    retried = sum(d["decisions"] for d in data) - len(latencies)
    cpu = sum(d["cpu"] for d in data)
    q = statistics.quantiles(latencies, n=100)
    elapsed = ARGS.seconds
    print(
        f"- {len(latencies)} spends ({len(latencies) / elapsed:.0f}/s), {waited} had to wait: "
        f"p50 **{q[49]:.2f} ms**, p90 {q[89]:.2f} ms, p99 **{q[98]:.2f} ms**, "
        f"max {latencies[-1]:.2f} ms"
    )
    print(
        f"- decisions retried (Redis WATCH conflicts): {retried} "
        f"({100 * retried / len(latencies):.0f}% of spends); client CPU "
        f"{1000 * cpu / len(latencies):.2f} ms per spend "
        f"({100 * cpu / elapsed:.0f}% of a core in all)"
    )
    store.clear()


def main():
    if ARGS.bench == "spend":
        if ARGS.child:
            spend_child()
        else:
            bench_spend()
        return
    h.setup_django()
    sandbox, url = h.start_sandbox()
    now = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    print(f"{now} UTC, load average {os.getloadavg()[0]:.1f}")
    try:
        {"app": bench_app, "patch": bench_patch, "zalando": bench_zalando}[ARGS.bench](url)
    finally:
        sandbox.stop()
        print(f"load average at the end {os.getloadavg()[0]:.1f}; logs in {h.WORKDIR}")


if __name__ == "__main__":
    main()
