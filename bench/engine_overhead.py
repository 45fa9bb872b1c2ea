"""The engine's own cost: the same WooCommerce offers through the bare client and through a real
resync run driven in this process (issue 28 item 3). Prints figures; asserts nothing.

For `--rounds` rounds, each on fresh integrations of `--offers` offers (one photo each, the
sandbox's limits and xSale's channel budgets off, as adapters_throughput.py does):
  bare    adapters_throughput.py's bare `requests` client (batches of 100, 4 in flight)
  engine  `start_resync` and the run's chunks driven by `process_chunk` in this thread (the
          resync worker's code, no worker process, no broker), timed from start to its end
Prints offers/s for both, the ratio (engine / bare) and the engine's database queries per
chunk (the statements the run's thread executes, counted by a `connection.execute_wrapper`,
divided by its chunks: the COMMITs aside, which the CaptureQueriesContext used before counted,
one a chunk), each round's CPU time of this process an offer (engine run and bare client:
steadier than offers/s on a shared machine; the sandbox is another process) and the garbage
collector's full collections during the engine run, then the load average. The process sets
its start-up heap aside as a resync worker does (cluster.settle_worker_heap; WORKER_GC_FREEZE=0
measures without). `--profile FILE` writes the engine's cProfile of the last round.

Usage: .venv/bin/python bench/engine_overhead.py [--offers 10000] [--rounds 3] [--profile F]
(DATABASE_URL as the app reads it; default: harness.py's throwaway SQLite file)
"""

import argparse
import cProfile
import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import adapters_throughput as at  # noqa: E402  (switches the channel budgets off)
import harness as h  # noqa: E402


class FullCollections:
    """The garbage collector's full collections while in the block: how many, and their time
    (gc.callbacks), each walking every object the process holds but those set aside."""

    def __init__(self):
        self.count, self.seconds, self._started = 0, 0.0, 0.0

    def __call__(self, phase, info):
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._started

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)


def engine_run(integration, profiler=None):
    """A resync run of the integration, chunk by chunk in this thread: (seconds, run, queries
    per chunk, tasks, CPU seconds of this process over the run, FullCollections)."""
    from django.conf import settings
    from django.db import connection

    from integrations.engine.runner import process_chunk
    from integrations.models import ResyncRun
    from integrations.services.runs import start_resync

    settings.RESYNC_RUNS_PER_WORKER = 1
    chunks = 0
    queries = []

    def counted(execute, sql, params, many, context):
        queries.append(1)
        return execute(sql, params, many, context)

    started, cpu = time.monotonic(), time.process_time()
    run = start_resync(integration, user=None, source="cli")
    # Counted, not captured: CaptureQueriesContext's debug cursor quotes every parameter of
    # every statement (on SQLite with a query of its own), which the worker never does.
    with FullCollections() as collections, connection.execute_wrapper(counted):
        if profiler:
            profiler.enable()
        while True:
            run = ResyncRun.objects.get(pk=run.pk)
            if not run.is_active:
                break
            process_chunk(run.pk, run.cursor)
            chunks += 1
        if profiler:
            profiler.disable()
    seconds, cpu = time.monotonic() - started, time.process_time() - cpu
    offers_per_chunk = integration.facts.chunk_size
    chunk_count = max(1, -(-run.total // offers_per_chunk))
    return seconds, run, len(queries) / chunk_count, chunks, cpu, collections


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--offers", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", default=None)
    args = parser.parse_args()

    h.setup_django()
    from integrations.engine.cluster import settle_worker_heap
    from tests.catalogue import make_offers

    settle_worker_heap()  # what a resync worker does once started (WORKER_GC_FREEZE)

    sandbox, url = h.start_sandbox()
    rows = []
    profiler = cProfile.Profile() if args.profile else None
    try:
        # Both warmed up first, unreported: a first round's bare client otherwise met a cold
        # sandbox and pool (15,000-22,000 offers/s against 28,000-31,000 after).
        warm = at.make_integration(url, "woocommerce", "eo-warm")
        make_offers(warm, 400, prefix="EOW-")
        at.bare_woocommerce(warm, at.load_items(warm))
        engine_run(warm)
        for i in range(args.rounds):
            bare_integration = at.make_integration(url, "woocommerce", f"eo-bare-{i}")
            make_offers(bare_integration, args.offers, prefix=f"EOB{i}-")
            items = at.load_items(bare_integration)
            bare_cpu = time.process_time()
            bare_seconds, bare_failed = at.bare_woocommerce(bare_integration, items)
            bare_cpu = time.process_time() - bare_cpu
            del items  # its 10,000s of instances would weigh on the engine run's collections
            engine_integration = at.make_integration(url, "woocommerce", f"eo-engine-{i}")
            make_offers(engine_integration, args.offers, prefix=f"EOE{i}-")
            last = profiler if i == args.rounds - 1 else None
            seconds, run, per_chunk, tasks, cpu, full = engine_run(engine_integration, last)
            bare, engine = args.offers / bare_seconds, run.sent / seconds
            rows.append((engine, bare, per_chunk))
            print(
                f"round {i + 1}: engine {engine:.0f} offers/s ({run.status}, {run.sent} sent, "
                f"{run.failed} failed, {tasks} tasks), bare {bare:.0f} offers/s "
                f"({bare_failed} failed), engine / bare {engine / bare:.2f}, "
                f"{per_chunk:.1f} queries per chunk; CPU of this process: engine "
                f"{cpu / run.sent * 1e6:.0f} µs an offer, bare {bare_cpu / args.offers * 1e6:.0f}; "
                f"the engine run's full collections: {full.count}, {full.seconds * 1e3:.0f} ms",
                flush=True,
            )
    finally:
        sandbox.stop()
    if profiler:
        profiler.dump_stats(args.profile)

    print(f"\n## WooCommerce: engine vs bare client ({args.offers} offers, in-process run)")
    print("| round | engine offers/s | bare client offers/s | engine / bare | queries per chunk |")
    print("|---|---|---|---|---|")
    for i, (engine, bare, per_chunk) in enumerate(rows, 1):
        print(f"| {i} | {engine:.0f} | {bare:.0f} | {engine / bare:.2f} | {per_chunk:.1f} |")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
