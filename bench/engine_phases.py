"""What each step of a resync chunk costs an offer, alone, and what the same database work
costs at its floor (issue 28 item 3). Prints figures; asserts nothing.

One WooCommerce integration with `--offers` offers (one photo and one parameter each, as the
other engine benches), a resync run started on it (no worker, no sandbox: nothing is sent), and
its first chunk (the channel's chunk size, 400). Each step runs `--repeat` times on that chunk:

  load      load_chunk: the links with their offers, photos, parameters, the journal's hashes
  decide    items_to_send on a freshly loaded chunk (what goes: listing keys, photo hashes)
  payload   what the sending thread does before a request: snapshots, product updates, JSON
  record    record(): journal upsert, counters, newest wins; in a transaction rolled back

and, for the floor of the same work (what no engine written over this database and Python can
go below):

  rows      the load's three statements (compiled by the ORM once) run and fetched as plain
            tuples: no converters, no instances, no lists per offer
  upsert    the journal upsert alone, its rows ready
  hashes    the content hashes alone
  json      the chunk's payload as JSON text alone, its dicts ready (the bare client pays it too)

Prints µs an offer (the best of the repeats; the machine's speed moves, so compare within one
run) or, with `--instructions`, CPU instructions an offer counted by valgrind's callgrind over
each step alone (a figure the machine's speed does not move; valgrind is Debian's package, not a
project dependency; about 2 minutes).

Usage: .venv/bin/python bench/engine_phases.py [--offers 1200] [--repeat 20] [--instructions]
(DATABASE_URL as the app reads it; default: harness.py's throwaway SQLite file)
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

STEPS = ("load", "decide", "payload", "record", "rows", "upsert", "hashes", "json")


class RolledBack(Exception):
    pass


def prepare(offers: int) -> dict:
    """The steps, each a callable doing the step once on the first chunk; and the chunk size."""
    import harness as h

    h.setup_django()
    from django.db import transaction
    from django.db.models.sql.constants import CURSOR
    from django.utils import timezone

    from integrations.engine.recording import JOURNAL_SENT_FIELDS, record, upsert_journal
    from integrations.engine.resync_chunk import items_to_send
    from integrations.engine.selection import load_chunk, run_links
    from integrations.engine.store import adapter_for
    from integrations.models import Integration, ResyncRun
    from integrations.saleschannels.woocommerce.adapter import product_update
    from integrations.services.demo import DEMO_CREDENTIALS, sandbox_integration_urls
    from integrations.services.runs import start_resync
    from integrations.shopconnect.base import OfferResult
    from offers.models import OfferParameter, OfferPhoto, SiteJournal
    from offers.related import Ids, in_order
    from tests.catalogue import make_offers

    integration = Integration.objects.create(
        name="phases",
        channel="woocommerce",
        credentials=dict(DEMO_CREDENTIALS["woocommerce"]),
        **sandbox_integration_urls("woocommerce", "phases", "http://127.0.0.1:9"),
    )
    make_offers(integration, offers, prefix="PH-")
    run = start_resync(integration, user=None, source="cli")
    ResyncRun.objects.filter(pk=run.pk).update(lease_token="phases")
    run = ResyncRun.objects.get(pk=run.pk)
    adapter = adapter_for(integration)
    size = integration.facts.chunk_size
    chunk = load_chunk(run, 0, size)
    items, _refused = items_to_send(run, chunk, adapter)
    results = [
        OfferResult(link.offer_id, ok=True, photos_sent=True, photo_files=1) for link in chunk.links
    ]

    def snapshots():
        snaps = [adapter.snapshot(item) for item in items]
        for snap in snaps:
            snap.listing = adapter.listing_key(snap)
        return snaps

    updates = [product_update(snap) for snap in snapshots()]

    def rolled_back(work):
        def step():
            try:
                with transaction.atomic():
                    work()
                    raise RolledBack
            except RolledBack:
                pass

        return step

    # The floor: the load's statements as the ORM compiles them, fetched as plain tuples.
    ids = Ids([link.offer_id for link in chunk.links])
    links = run_links(run).filter(offer_id__gt=0).order_by("offer_id")
    statements = [
        links.values_list(
            "id", "offer_id", "integration_id", "active", "external_id", "offer__sku",
            "offer__ean", "offer__name", "offer__description", "offer__price",
            "offer__currency", "offer__stock",
        )[:size],
        in_order(OfferPhoto.objects.filter(offer_id__in=ids)).values_list(
            "id", "offer_id", "image", "position", "sha256", "content_type"
        ),
        in_order(OfferParameter.objects.filter(offer_id__in=ids)).values_list(
            "offer_id", "name", "value"
        ),
        SiteJournal.objects.filter(
            integration_id=integration.pk, offer_id__in=ids
        ).values_list("offer_id", "photos_hash"),
    ]  # fmt: skip
    compiled = [q.query.get_compiler(q.db) for q in statements]

    def rows():
        for compiler in compiled:
            cursor = compiler.execute_sql(CURSOR)
            if cursor is not None:
                cursor.fetchall()
                cursor.close()

    now = timezone.now()
    offers_sent = [link.offer for link in chunk.links]
    journal_rows = [
        (o.pk, integration.pk, chunk.photos_hash(o), o.content_hash(), now, "ok", "", o.price,
         o.currency, o.stock)
        for o in offers_sent
    ]  # fmt: skip
    steps = {
        "load": lambda: load_chunk(run, 0, size),
        "decide": None,  # below: its own chunk each time, timed without the load
        "payload": lambda: json.dumps({"update": [product_update(s) for s in snapshots()]}),
        "record": rolled_back(lambda: record(run, "phases", chunk, chunk.links, results)),
        "rows": rows,
        "upsert": rolled_back(lambda: upsert_journal(journal_rows, JOURNAL_SENT_FIELDS)),
        "hashes": lambda: [o.content_hash() for o in offers_sent],
        "json": lambda: json.dumps({"update": updates}),
    }
    return {"steps": steps, "size": size, "decide": (run, adapter, load_chunk, items_to_send)}


def setup(ready: dict, step: str):
    """What one run of the step needs and is not counted: `decide` a freshly loaded chunk."""
    if step == "decide":
        run, _adapter, load_chunk, _items_to_send = ready["decide"]
        return load_chunk(run, 0, ready["size"])
    return None


def work(ready: dict, step: str, prepared) -> None:
    if step == "decide":
        run, adapter, _load_chunk, items_to_send = ready["decide"]
        items_to_send(run, prepared, adapter)
    else:
        ready["steps"][step]()


def seconds(ready: dict, step: str) -> float:
    """One run of the step, in seconds."""
    prepared = setup(ready, step)
    started = time.perf_counter()
    work(ready, step, prepared)
    return time.perf_counter() - started


def timed(args) -> None:
    ready = prepare(args.offers)
    size = ready["size"]
    print(f"## A chunk's steps, alone ({size} offers a chunk, best of {args.repeat})")
    print("| step | µs an offer |")
    print("|---|---|")
    for step in STEPS:
        best = min(seconds(ready, step) for _ in range(args.repeat))
        print(f"| {step} | {best / size * 1e6:.1f} |", flush=True)


def child(args) -> None:
    """Inside valgrind: for each step, say READY, run it `--repeat` times, say DONE."""
    ready = prepare(args.offers)
    for step in STEPS:
        seconds(ready, step)  # warm: imports, caches
        prepared = [setup(ready, step) for _ in range(args.repeat)]
        print(f"READY {step} {ready['size']}", flush=True)
        sys.stdin.readline()
        for one in prepared:
            work(ready, step, one)
        print("DONE", flush=True)
        sys.stdin.readline()


def counted(args) -> None:
    repeat = min(args.repeat, 5)  # 50× slower under valgrind
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={tmp}/callgrind.out", f"--log-file={tmp}/valgrind.log",
            sys.executable, __file__, "--child", "--offers", str(args.offers),
            "--repeat", str(repeat),
        ]  # fmt: skip
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        control = ["callgrind_control"]
        size = 400
        for line in proc.stdout:
            if line.startswith("READY"):
                step, size = line.split()[1], int(line.split()[2])
                subprocess.run([*control, "-z", str(proc.pid)], capture_output=True, check=True)
                subprocess.run([*control, "-i", "on", str(proc.pid)], capture_output=True,
                               check=True)  # fmt: skip
            elif line.startswith("DONE"):
                subprocess.run([*control, "-i", "off", str(proc.pid)], capture_output=True,
                               check=True)  # fmt: skip
                subprocess.run([*control, "-d", step, str(proc.pid)], capture_output=True,
                               check=True)  # fmt: skip
            else:
                continue
            proc.stdin.write("go\n")
            proc.stdin.flush()
        proc.wait(timeout=600)
        print(f"## A chunk's steps, alone, counted ({size} offers a chunk, {repeat} runs each)")
        print("| step | instructions an offer |")
        print("|---|---|")
        for dump in sorted(Path(tmp).glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:])):
            text = dump.read_text()
            step = re.search(r"^desc: Trigger: dump (\S+)", text, re.M)
            total = re.search(r"^totals: (\d+)", text, re.M)
            if step and total:
                print(f"| {step.group(1)} | {int(total.group(1)) / repeat / size:,.0f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--offers", type=int, default=1200)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args)
    elif args.instructions:
        counted(args)
    else:
        timed(args)
    print(f"database: {os.environ.get('DATABASE_URL', 'SQLite (harness)')}")


if __name__ == "__main__":
    main()
