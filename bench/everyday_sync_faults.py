"""Everyday sync under faults (issue 26): what must be SHOWN. Prints figures; asserts nothing.

Allegro in the sandbox, reached through a recording proxy started here: every request passes
through it, and it keeps the channel's write log — for each `PATCH /sale/product-offers/{id}`
the listing, the stock it set, the time and the answer's status — and can play the channel down
(answer 503 itself, forwarding nothing). The `sync` process (`manage.py run_sync`) runs.

  wave     an `import_offers` file sets stock 0 on 40 % of the integration's offers: the
           guardrail must hold the wave, and the sandbox must show not one listing changed; then
           `sync_changes NAME --confirm-wave` (all arrive) — and, on a second integration,
           `--discard-wave` (none arrive)
  kill     changes (a rising stock, several per listing) committed while `run_sync` is killed
           with SIGKILL (its whole process group) again and again, sends in flight; after the
           last restart every change must arrive, the newest last, no older value after a newer
           one; writes per change are counted (a send cut by the kill goes again: at least once);
           with --resync a full resync runs meanwhile in a resync worker (`qcluster`), killed
           and restarted with the sync process each time
  down     the channel answers 503 for DOWN seconds while changes keep coming (several per
           listing: superseded values); after it is back every change arrives and no superseded
           value is written after a newer one; the delay after the channel came back is printed

Usage: .venv/bin/python bench/everyday_sync_faults.py [wave|kill|down ...] [--offers N]
       [--kills K] [--resync] [--down SECONDS] [--backoff SECONDS]
(`--down` defaults to 300 s, the issue's five minutes; `--backoff` sets SYNC_MAX_BACKOFF_SECONDS
for the sync process, default 300, the setting's own default.)
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import everyday_sync as es  # noqa: E402
import harness as h  # noqa: E402

LATENCY_MS = 200  # long enough that a kill finds sends in flight
SEND_PATH = "/sale/product-offers/"


class RecordingProxy:
    """A reverse proxy to the sandbox that logs every PATCH of a listing's stock, and can play
    the channel down."""

    def __init__(self, target: str):
        self.target = target
        self.writes: list[dict] = []  # {"listing", "stock", "at", "status"}
        self.refused = 0
        self.cut = 0  # answers whose client was gone (killed mid-request)
        self.down = False
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.down:
                    with proxy.lock:
                        proxy.refused += 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length")
                }
                answer = requests.request(
                    self.command,
                    proxy.target + self.path,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=30,
                )
                if self.command == "PATCH" and SEND_PATH in self.path and body:
                    stock = (json.loads(body).get("stock") or {}).get("available")
                    if stock is not None:
                        with proxy.lock:
                            proxy.writes.append(
                                {
                                    "listing": self.path.rsplit("/", 1)[1],
                                    "stock": int(stock),
                                    "at": time.time(),
                                    "status": answer.status_code,
                                    "alone": set(json.loads(body)) == {"stock"},
                                }
                            )
                content = answer.content
                self.send_response(answer.status_code)
                for k, v in answer.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                         "content-encoding"):  # fmt: skip
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(content)))
                try:
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:  # the client was killed while its request was in flight
                    with proxy.lock:
                        proxy.cut += 1
                    raise

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client killed mid-request (the kill bench): nothing to say

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def setup(proxy_url, sandbox_url, account, offers_count, prefix, name=None):
    """An Allegro integration pointing at the proxy, its offers all delivered once with a stock
    of 10 or more (so the journal says stock was sent)."""
    from django.db import transaction

    from integrations.models import Integration
    from integrations.services.demo import sandbox_integration_urls
    from offers import outbox
    from offers.models import Offer, PendingChange
    from tests.catalogue import DEMO_CREDENTIALS, make_offers

    h.sandbox_configure(sandbox_url, "allegro", account, latency_ms=LATENCY_MS)
    integration = Integration.objects.create(
        name=name or f"allegro-{account}",
        channel="allegro",
        credentials=dict(DEMO_CREDENTIALS["allegro"]),
        **sandbox_integration_urls("allegro", account, proxy_url),
    )
    make_offers(integration, offers_count, prefix=prefix)
    offers = list(Offer.objects.filter(channels__integration=integration).order_by("pk"))
    with transaction.atomic():
        for offer in offers:
            Offer.objects.filter(pk=offer.pk).update(stock=10 + offer.pk % 7)
        outbox.record_changes([(o.pk, "stock") for o in offers])
    return (
        integration,
        offers,
        lambda: PendingChange.objects.filter(integration=integration, pending=True).count(),
    )


def wait_until(predicate, seconds, every=0.5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def start_sync(name, **env):
    return h.Process([sys.executable, "manage.py", "run_sync"], name=name, env=env)


def manage(*args) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=h.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return (done.stdout + done.stderr).strip()


def held(sandbox_url, account):
    return es.held_stocks(sandbox_url, "allegro", account)


# --- wave -----------------------------------------------------------------------------------


def photo_beside(photo) -> str:
    """The photo copied into the import file's folder (the only place an import reads from)."""
    target = h.WORKDIR / Path(photo.image.name).name
    if not target.exists():
        shutil.copyfile(photo.image.path, target)
    return target.name


def import_line(offer, integration_name) -> dict:
    """The offer as an import file gives it, with stock 0 (everything else unchanged)."""
    link = offer.channels.get()
    return {
        "sku": offer.sku,
        "ean": offer.ean,
        "name": offer.name,
        "description": offer.description,
        "price": str(offer.price),
        "currency": offer.currency,
        "stock": 0,
        "parameters": [{"name": p.name, "value": p.value} for p in offer.parameters.all()],
        "photos": [photo_beside(photo) for photo in offer.photos.all()],
        "channels": [
            {"integration": integration_name, "active": True, "external_id": link.external_id}
        ],
    }


def one_wave(proxy, sandbox_url, offers_count, decision):
    from offers.models import ChangeWave, Offer

    account = f"wave-{decision}"
    name = f"allegro-{account}"
    integration, offers, pending = setup(
        proxy.url, sandbox_url, account, offers_count, f"W{decision[0].upper()}", name=name
    )
    sync = start_sync(f"sync-wave-{decision}")
    try:
        delivered = wait_until(lambda: pending() == 0, 300)
        before = held(sandbox_url, account)
        rng = random.Random(40)
        zeroed = rng.sample(offers, round(0.4 * len(offers)))
        path = h.WORKDIR / f"wave-{decision}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for offer in zeroed:
                fh.write(json.dumps(import_line(offer, name)) + "\n")
        writes_before = len(proxy.writes)
        started = time.time()
        imported = manage("import_offers", str(path), "--language", "en")
        wait_until(lambda: ChangeWave.objects.filter(integration=integration).exists(), 30)
        time.sleep(10)  # the sync process goes round many times meanwhile (every 0.2 s)
        after = held(sandbox_url, account)
        changed = [k for k, v in after.items() if before.get(k) != v]
        stock_writes = len(proxy.writes) - writes_before
        wave = ChangeWave.objects.filter(integration=integration).order_by("-pk").first()
        print(
            f"- {decision}: initial delivery {'done' if delivered else 'NOT done'}; import: "
            f"{imported.splitlines()[-1] if imported else '—'}"
        )
        if "lines failed: 0." not in imported:
            print("  " + "\n  ".join(imported.splitlines()[:3]))  # fmt: skip
        held_wave = f"{wave.decision}, {wave.zeroed} zeroed counted" if wave else "none"
        print(f"  zeroed {len(zeroed)} of {len(offers)} offers; wave: {held_wave}; 10 s later: "
              f"listings changed at the channel {len(changed)}, stock PATCHes sent "
              f"{stock_writes}, still pending {pending()}")  # fmt: skip
        decided = time.time()
        print("  " + manage("sync_changes", name, f"--{decision}-wave").splitlines()[0])
        wait_until(lambda: pending() == 0, 120)
        time.sleep(2)
        final = held(sandbox_url, account)
        listing = {o.pk: o.channels.get().external_id for o in offers}
        zero_at_channel = sum(1 for o in zeroed if final.get(listing[o.pk]) == 0)
        others_changed = sum(
            1 for o in offers if o not in zeroed and final.get(listing[o.pk]) != before.get(
                listing[o.pk])
        )  # fmt: skip
        catalogue_zero = Offer.objects.filter(pk__in=[o.pk for o in zeroed], stock=0).count()
        last = max((w["at"] for w in proxy.writes[writes_before:]), default=decided)
        print(f"  after --{decision}-wave: {zero_at_channel} of {len(zeroed)} zeroed listings "
              f"hold 0 at the channel ({max(0.0, last - decided):.1f} s after the decision), "
              f"other listings changed {others_changed}, pending {pending()}, catalogue still "
              f"0 on {catalogue_zero}; import → decision {decided - started:.0f} s "
              f"({es.load()})")  # fmt: skip
    finally:
        sync.stop()


def wave(proxy, sandbox_url, offers_count):
    print(f"\n## A 40 % zero-stock wave: Allegro, {offers_count} offers, answers in "
          f"{LATENCY_MS} ms ({es.load()})")  # fmt: skip
    one_wave(proxy, sandbox_url, offers_count, "confirm")
    one_wave(proxy, sandbox_url, offers_count, "discard")


# --- the write log's verdict ----------------------------------------------------------------


def verdict(proxy, changes, since, label):
    """For each listing the changes touched: the stocks written (2xx) in order must rise, the
    last being the newest committed; each committed value counted by how often it was written."""
    from collections import Counter, defaultdict

    newest: dict[str, int] = {}
    for change in changes:
        newest[change["listing"]] = max(newest.get(change["listing"], 0), change["stock"])
    written = defaultdict(list)
    alone = defaultdict(list)
    for w in proxy.writes:
        if w["at"] >= since and 200 <= w["status"] < 300 and w["listing"] in newest:
            written[w["listing"]].append(w["stock"])
            if w["alone"]:
                alone[w["listing"]].append(w["stock"])

    def falls(by_listing):
        return sum(
            1 for vs in by_listing.values() for a, b in zip(vs, vs[1:], strict=False) if b < a
        )

    backwards = falls(written)
    wrong_last = [k for k, v in newest.items() if not written[k] or written[k][-1] != v]
    times = Counter(v for values in alone.values() for v in values)
    committed = {c["stock"] for c in changes}
    sent_once = sum(1 for v in committed if times[v] == 1)
    sent_twice = sum(1 for v in committed if times[v] > 1)
    never = len(committed) - sent_once - sent_twice
    print(f"- {label}: {len(changes)} changes on {len(newest)} listings; writes accepted "
          f"{sum(len(v) for v in written.values())}")  # fmt: skip
    print(f"  listings whose last write is not the newest value: {len(wrong_last)}; an older "
          f"value written after a newer one: {backwards} times ({falls(alone)} of them by "
          f"the sync process's own writes; a resync's whole-offer PATCH may carry an older "
          f"value, which newest wins then overwrites)")  # fmt: skip
    print(f"  committed values the sync process wrote once {sent_once}, more than once "
          f"{sent_twice}, never "
          f"{never} (superseded before a send: coalesced)")  # fmt: skip
    return wrong_last


def drive(offers, adapter, count, per_second, rng, stock_from, changes):
    pool = rng.sample(offers, min(len(offers), 40))
    start = time.monotonic()
    for i in range(count):
        offer = rng.choice(pool)
        stock = stock_from + i
        committed = es.change_stock(offer.pk, stock)
        changes.append({"offer": offer.pk, "listing": es.listing_of(adapter, offer),
                        "stock": stock, "committed": committed})  # fmt: skip
        time.sleep(max(0.0, start + (i + 1) / per_second - time.monotonic()))


# --- kill -9 --------------------------------------------------------------------------------


def kill(proxy, sandbox_url, offers_count, kills, with_resync):
    from integrations import shopconnect
    from integrations.services.runs import start_resync

    claim = 10
    print(f"\n## kill -9 of the sync process while changes are pending: Allegro, {offers_count} "
          f"offers, answers in {LATENCY_MS} ms, {kills} kills, SYNC_CLAIM_SECONDS={claim} "
          f"({es.load()})")  # fmt: skip
    env = {"SYNC_CLAIM_SECONDS": str(claim)}
    integration, offers, pending = setup(proxy.url, sandbox_url, "kill", offers_count, "KL")
    sync = start_sync("sync-kill-0", **env)
    wait_until(lambda: pending() == 0, 300)
    adapter = shopconnect.adapter_for(integration)
    changes: list[dict] = []
    since = time.time()
    driver = threading.Thread(
        target=drive,
        args=(offers, adapter, 20 * (kills + 1) * 3, 20, random.Random(9), 1000, changes),
    )
    worker, run, sweeper = None, None, h.Sweeper()
    if with_resync:
        worker = h.start_resync_worker(workers=1, name="worker-kill-0")
        sweeper.__enter__()
        run = start_resync(integration, user=None, source="cli")
    driver.start()
    in_flight = []
    for k in range(kills):
        time.sleep(3)
        in_flight.append(pending())
        for proc in (sync, worker):
            if proc is not None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.proc.wait()
                proc.log.close()
        time.sleep(0.5)
        sync = start_sync(f"sync-kill-{k + 1}", **env)
        if worker is not None:
            worker = h.start_resync_worker(workers=1, name=f"worker-kill-{k + 1}")
    driver.join()
    try:
        if run is not None:
            wait_until(lambda: not type(run).objects.get(pk=run.pk).is_active, 600, every=1)
            run.refresh_from_db()
            print(f"- resync {run.status}: {run.sent} sent, {run.failed} failed")
        done = wait_until(lambda: pending() == 0, 180)
        time.sleep(2)
        print(f"- pending at each kill: {in_flight}; requests cut by the kills (the channel "
              f"answered a dead client): {proxy.cut}; all delivered after the restarts: "
              f"{done}")  # fmt: skip
        verdict(proxy, changes, since, "after the kills")
        final = held(sandbox_url, "kill")
        from offers.models import Offer

        wrong = sum(
            1 for o in Offer.objects.filter(pk__in={c["offer"] for c in changes})
            if final.get(o.channels.get().external_id) != o.stock
        )  # fmt: skip
        print(f"  listings not holding the catalogue's stock at the end: {wrong} ({es.load()})")
    finally:
        sync.stop()
        if worker is not None:
            sweeper.__exit__()
            worker.stop()


# --- the channel down -----------------------------------------------------------------------


def down(proxy, sandbox_url, offers_count, down_seconds, backoff):
    from integrations import shopconnect

    print(f"\n## The channel down for {down_seconds} s (503 to everything): Allegro, "
          f"{offers_count} offers, SYNC_MAX_BACKOFF_SECONDS={backoff} ({es.load()})")  # fmt: skip
    integration, offers, pending = setup(proxy.url, sandbox_url, "down", offers_count, "DN")
    sync = start_sync("sync-down", SYNC_MAX_BACKOFF_SECONDS=str(backoff))
    try:
        wait_until(lambda: pending() == 0, 300)
        adapter = shopconnect.adapter_for(integration)
        changes: list[dict] = []
        since = time.time()
        proxy.down = True
        went_down = time.time()
        per_second = 2
        drive(offers, adapter, int(down_seconds * per_second), per_second, random.Random(5),
              2000, changes)  # fmt: skip
        proxy.down = False
        back = time.time()
        during = [w for w in proxy.writes if went_down <= w["at"] < back]
        print(f"- down {back - went_down:.0f} s: {proxy.refused} requests answered 503, "
              f"{len(during)} writes reached the channel meanwhile, pending at the end "
              f"{pending()}")  # fmt: skip
        done = wait_until(lambda: pending() == 0, backoff + 120)
        last = max((w["at"] for w in proxy.writes if w["at"] >= back), default=back)
        print(f"  all delivered after it came back: {done}, the last write "
              f"{last - back:.1f} s after")  # fmt: skip
        verdict(proxy, changes, since, "the outage")
        after_back = [w for w in proxy.writes if w["at"] >= back and w["status"] < 300]
        print(f"  writes after it came back {len(after_back)} for "
              f"{len({c['listing'] for c in changes})} listings ({es.load()})")  # fmt: skip
    finally:
        sync.stop()


def main(argv):
    options = dict(zip(argv, argv[1:], strict=False))
    which = [a for a in argv if a in ("wave", "kill", "down")] or ["wave", "kill", "down"]
    offers_count = int(options.get("--offers", 500))
    h.setup_django()
    sandbox, url = h.start_sandbox()
    proxy = RecordingProxy(url)
    try:
        if "wave" in which:
            wave(proxy, url, offers_count)
        if "kill" in which:
            kill(proxy, url, offers_count, int(options.get("--kills", 5)), "--resync" in argv)
        if "down" in which:
            down(proxy, url, offers_count, float(options.get("--down", 300)),
                 float(options.get("--backoff", 300)))  # fmt: skip
    finally:
        proxy.stop()
        sandbox.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
