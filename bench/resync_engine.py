"""Resync engine benchmarks (issue #4). Prints figures; asserts nothing.

  throughput  engine offers/s vs a bare HTTP client against the same sandbox (10,000 offers
              per channel, the sandbox's limits lifted, xSale's channel budgets switched off
              through CHANNEL_LIMITS and the integration's own at 10,000,000 requests/min)
  limit       share of a channel limit used, with the sandbox enforcing it and answering in
              200 ms, and the number of limit violations
  memory      peak RSS of the resync worker at 100,000 offers vs 10,000

Usage: .venv/bin/python bench/resync_engine.py [throughput|limit|memory ...] [--offers N]
(--offers: the limit run's offers, default 5,000)
"""

import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def seed(integration, count, prefix):
    from tests.catalogue import make_offers

    t0 = time.monotonic()
    make_offers(integration, count, prefix=prefix)
    return time.monotonic() - t0


def make_integration(url, channel, account, **fields):
    from integrations.models import Integration
    from integrations.services.demo import DEMO_CREDENTIALS

    base = f"{url}/{channel}/{account}"
    urls = {"api_url": base}
    if channel == "allegro":
        urls.update(upload_url=f"{base}/upload", auth_url=f"{base}/auth/oauth/token")
    return Integration.objects.create(
        name=f"{channel}-{account}",
        channel=channel,
        credentials=dict(DEMO_CREDENTIALS[channel]),
        **urls,
        **fields,
    )


def run_to_end(integration, poll=0.1):
    """Start a resync and wait for it; seconds are the run's own, first chunk to last."""
    from integrations.services.runs import start_resync

    run = start_resync(integration, user=None, source="cli")
    while True:
        run.refresh_from_db()
        if not run.is_active:
            return run, (run.finished_at - run.started_at).total_seconds()
        time.sleep(poll)


def throughput(url, count=10_000, only=None):
    """The engine (a resync through the worker) vs the bare client of adapters_throughput.py."""
    import adapters_throughput as at

    print(f"\n## Engine throughput vs a bare client ({count} offers per channel)")
    print("| channel | engine offers/s | bare client offers/s | engine / bare |")
    print("|---|---|---|---|")
    for channel in only or ("woocommerce", "allegro", "zalando"):
        engine_integration = at.make_integration(url, channel, f"tp-engine-{channel}")
        seed(engine_integration, count, prefix=f"TPE{channel[:2]}")
        run, seconds = run_to_end(engine_integration)
        engine = run.sent / seconds
        bare_integration = at.make_integration(url, channel, f"tp-bare-{channel}")
        seed(bare_integration, count, prefix=f"TPB{channel[:2]}")
        items = at.load_items(bare_integration)
        bare_seconds, bare_failed = at.BARE[channel](bare_integration, items)
        bare = count / bare_seconds
        print(
            f"| {channel} | {engine:.0f} | {bare:.0f} | {engine / bare:.2f} |"
            f"  (engine {run.status}, {run.failed} failed; bare {bare_failed} failed)",
            flush=True,
        )


def limit_share(url, offers=5000):
    """Allegro's published limits, enforced by the sandbox (9,000 requests/min per app, PATCH
    2,490/min and 74,700/h per seller; over the app's: 429 and a one-minute block), every answer
    200 ms late."""
    patch_limit = 2490
    print(f"\n## Share of Allegro's PATCH limit used ({patch_limit}/min, 200 ms answers)")
    account = "limit"
    h.sandbox_configure(url, "allegro", account, latency_ms=200)
    integration = make_integration(url, "allegro", account)
    seed(integration, offers, prefix="LIM")
    with h.Sweeper():  # paused runs wake within 5 s, as run_cluster's sweeper does
        run, seconds = run_to_end(integration)
    counters = h.sandbox_state(url, "allegro", account)["counters"]
    rate = run.sent / seconds * 60
    print(
        f"- run {run.status}: {run.sent} offers, one photo each (upload + PATCH), in "
        f"{seconds:.1f} s = {rate:.0f} PATCH/min = {100 * rate / patch_limit:.1f}% of the limit"
    )
    print(
        f"- sandbox: most requests in any 60 s window {counters['max_in_60s']}, in each "
        f"limit's own window {counters['max_in_window']}, 429 answered {counters['throttled']}, "
        f"limit violations {counters['limit_violations']}"
    )


def memory():
    import adapters_throughput as at

    print("\n## Peak RSS of the resync worker")
    from integrations.models import Integration

    results = {}
    for count in (10_000, 100_000):
        account = f"mem{count}"
        integration = at.make_integration(URL, "woocommerce", account)
        seed(integration, count, prefix=f"M{count}-")
        worker = h.start_resync_worker()
        peak = {"kib": 0}
        stop = threading.Event()

        def sample(pgid=worker.pid, peak=peak, stop=stop):
            while not stop.is_set():
                rss = h.process_group_rss_kib(pgid)
                if rss:
                    # the largest single process: the worker that runs the chunks
                    peak["kib"] = max(peak["kib"], max(rss.values()))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        run, seconds = run_to_end(Integration.objects.get(pk=integration.pk))
        stop.set()
        sampler.join()
        worker.stop()
        results[count] = peak["kib"]
        print(
            f"- {count} offers: {run.status} in {seconds:.0f} s ({run.sent / seconds:.0f}/s), "
            f"peak RSS {peak['kib'] / 1024:.1f} MiB"
        )
    print(f"- ratio 100k/10k: {results[100_000] / results[10_000]:.2f}")


if __name__ == "__main__":
    wanted = sys.argv[1:]
    limit_offers = 5000
    if "--offers" in wanted:
        at_ = wanted.index("--offers")
        limit_offers = int(wanted[at_ + 1])
        del wanted[at_ : at_ + 2]
    wanted = wanted or ["throughput", "limit", "memory"]
    channels = [w for w in wanted if w in ("woocommerce", "allegro", "zalando")]
    h.setup_django()
    sandbox, URL = h.start_sandbox()
    try:
        if "memory" in wanted:
            memory()
        if "throughput" in wanted:
            # Like the bare client, the engine runs with the channels' limits lifted: every
            # channel budget off (CHANNEL_LIMITS), the integration's own at 10,000,000/min.
            import adapters_throughput as at

            worker = h.start_resync_worker(CHANNEL_LIMITS=json.dumps(at.CHANNEL_LIMITS_OFF))
            try:
                throughput(URL, only=channels)
            finally:
                worker.stop()
        if "limit" in wanted:
            worker = h.start_resync_worker(CHANNEL_LIMITS="{}")  # the published limits
            try:
                limit_share(URL, offers=limit_offers)
            finally:
                worker.stop()
    finally:
        sandbox.stop()
