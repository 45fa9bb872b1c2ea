"""How many requests a second the channel sandbox serves, so that it is never a benchmark's
bottleneck.

Starts `python -m sandbox` in a subprocess, switches the test accounts' limits off through the
control API, and drives it with bare clients (requests.Session, keep-alive) from several
processes × threads for a bounded time, one scenario after another:

- allegro_patch: PATCH /sale/product-offers/{id} with a realistic offer body (~1.5 kB)
- woo_batch100:  POST /wp-json/wc/v3/products/batch with 100 price+stock updates
- woo_batch1:    the same endpoint with one update (the smallest useful request)

Usage: .venv/bin/python bench/sandbox_capacity.py [--seconds 5] [--processes 2] [--threads 4]
"""

import argparse
import json
import multiprocessing
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
ALLEGRO_JSON = "application/vnd.allegro.public.v1+json"
ALLEGRO_HEADERS = {
    "Authorization": "Bearer sandbox-access",
    "Accept": ALLEGRO_JSON,
    "Content-Type": ALLEGRO_JSON,
}
WOO_AUTH = ("ck_sandbox", "cs_sandbox")


def allegro_body(i: int) -> bytes:
    return json.dumps(
        {
            "name": f"Kubek ceramiczny 350 ml nr {i}",
            "description": {
                "sections": [
                    {"items": [{"type": "TEXT", "content": "<p>" + "Opis oferty. " * 90 + "</p>"}]}
                ]
            },
            "parameters": [
                {"name": "Materiał", "values": ["ceramika"]},
                {"name": "Pojemność", "values": ["350 ml"]},
            ],
            "sellingMode": {"price": {"amount": f"{10 + i % 90}.99", "currency": "PLN"}},
            "stock": {"available": i % 17, "unit": "UNIT"},
            "external": {"id": f"SKU-{i}"},
        }
    ).encode()


def woo_body(i: int, size: int) -> bytes:
    return json.dumps(
        {
            "update": [
                {
                    "id": 1 + (i * size + k) % 100_000,
                    "regular_price": f"{10 + k % 90}.99",
                    "manage_stock": True,
                    "stock_quantity": k % 17,
                }
                for k in range(size)
            ]
        }
    ).encode()


def client_thread(url, scenario, deadline, results, index):
    session = requests.Session()
    done = errors = 0
    i = index * 10_000
    while time.monotonic() < deadline:
        i += 1
        if scenario == "allegro_patch":
            response = session.patch(
                f"{url}/allegro/capacity/sale/product-offers/{i % 100_000}",
                data=allegro_body(i),
                headers=ALLEGRO_HEADERS,
                timeout=10,
            )
        else:
            size = 100 if scenario == "woo_batch100" else 1
            response = session.post(
                f"{url}/woocommerce/capacity/wp-json/wc/v3/products/batch",
                data=woo_body(i, size),
                headers={"Content-Type": "application/json"},
                auth=WOO_AUTH,
                timeout=10,
            )
        done += 1
        errors += response.status_code != 200
    results.append((done, errors))


def client_process(url, scenario, deadline_in, threads, queue, index):
    import threading

    deadline = time.monotonic() + deadline_in
    results = []
    workers = [
        threading.Thread(
            target=client_thread, args=(url, scenario, deadline, results, index * 100 + t)
        )
        for t in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((sum(r[0] for r in results), sum(r[1] for r in results)))


def run(url, scenario, seconds, processes, threads):
    queue = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(
            target=client_process, args=(url, scenario, seconds, threads, queue, p)
        )
        for p in range(processes)
    ]
    started = time.monotonic()
    for proc in procs:
        proc.start()
    totals = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = time.monotonic() - started
    done = sum(t[0] for t in totals)
    errors = sum(t[1] for t in totals)
    return done / elapsed, errors, done


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) the process has used so far; Linux /proc, else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario (3 scenarios)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    seconds = min(args.seconds, 6.0)  # three scenarios, bounded at ≈ 20 s in all

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                requests.get(f"{url}/_sandbox/health", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.05)
        off = {"limits": {"requests_per_minute": None, "patch_per_minute": None}}
        for channel in ("allegro", "woocommerce"):
            requests.post(f"{url}/_sandbox/{channel}/capacity/config", json=off, timeout=5)

        print(
            f"sandbox capacity: {args.processes} client processes × {args.threads} threads, "
            f"{seconds:g} s per scenario"
        )
        for scenario, items in (("allegro_patch", 1), ("woo_batch100", 100), ("woo_batch1", 1)):
            cpu_before = cpu_seconds(server.pid)
            rate, errors, done = run(url, scenario, seconds, args.processes, args.threads)
            cpu_after = cpu_seconds(server.pid)
            extra = f" = {rate * items:,.0f} product updates/s" if items > 1 else ""
            print(
                f"  {scenario:14s} {rate:8,.0f} requests/s{extra}  ({done} done, {errors} non-200)"
            )
            if cpu_before is not None and cpu_after is not None and done:
                per_request = (cpu_after - cpu_before) / done
                print(
                    f"  {'':14s} sandbox CPU {per_request * 1e6:,.0f} µs/request "
                    f"→ ≈ {1 / per_request:,.0f} requests/s per core it gets"
                )
        state = requests.get(f"{url}/_sandbox/allegro/capacity/state?offers=0", timeout=10).json()
        print(f"  allegro account holds {state['offer_count']} offers")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
