"""The engine's own cost in CPU instructions, not seconds (issue 28 item 3): the same WooCommerce
offers through a resync run driven in this process and through the bare client, each counted by
valgrind's callgrind over exactly the work (every thread of the process; the sandbox is another
process, not counted). A count does not move with the machine's speed, which here varies by 1.7×
within minutes: two versions of the code compare in one run each. Prints figures; asserts
nothing. Needs valgrind (Debian's `valgrind` package); a run of 3,000 offers takes about a
minute (the process runs some 50× slower under it).

For each of `--what` (engine, bare): a child process under `valgrind --tool=callgrind
--instr-atstart=no` sets up Django, a warm-up run (400 offers: imports, caches) and the
integration's offers (one photo each, the sandbox's and xSale's limits off, as
engine_overhead.py does); then counting is switched on (`callgrind_control -i on`), the work
runs (engine_overhead.engine_run, or adapters_throughput.bare_woocommerce), and counting is
switched off. Prints instructions an offer for each and the ratio bare / engine: what the
engine / bare client throughput would be if both were bound by this process's CPU alone.

Usage: .venv/bin/python bench/engine_instructions.py [--offers 3000] [--what engine bare]
(DATABASE_URL as the app reads it — a fresh database for each run on PostgreSQL — default:
harness.py's throwaway SQLite file)
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def child(what: str, offers: int) -> None:
    """Inside valgrind: prepare, say READY, wait for a line on stdin, work, say DONE."""
    import adapters_throughput as at
    import engine_overhead as eo
    import harness as h

    h.setup_django()
    from integrations.engine.cluster import settle_worker_heap
    from tests.catalogue import make_offers

    settle_worker_heap()  # what a resync worker does once started (WORKER_GC_FREEZE)
    sandbox, url = h.start_sandbox()
    try:
        warm = at.make_integration(url, "woocommerce", "instr-warm")
        make_offers(warm, 400, prefix="IW-")
        eo.engine_run(warm)
        integration = at.make_integration(url, "woocommerce", f"instr-{what}")
        make_offers(integration, offers, prefix="IN-")
        items = at.load_items(integration) if what == "bare" else None
        print("READY", flush=True)
        sys.stdin.readline()
        if what == "bare":
            _seconds, failed = at.bare_woocommerce(integration, items)
            print(f"DONE {offers - failed} sent", flush=True)
        else:
            _seconds, run, *_ = eo.engine_run(integration)
            print(f"DONE {run.sent} sent ({run.status})", flush=True)
        sys.stdin.readline()
    finally:
        sandbox.stop()


def count(what: str, offers: int) -> tuple[int, str]:
    """(instructions counted over the work, the child's DONE line)."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "valgrind.log"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={tmp}/callgrind.out",
            f"--log-file={log}",
            sys.executable,
            __file__,
            "--child",
            what,
            "--offers",
            str(offers),
        ]
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=HERE.parent
        )
        try:
            for line in proc.stdout:
                if line.startswith("READY"):
                    break
            else:
                raise RuntimeError(f"{what}: the child ended before it was ready ({log})")
            subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True,
                           capture_output=True)  # fmt: skip
            proc.stdin.write("go\n")
            proc.stdin.flush()
            done = next((line.strip() for line in proc.stdout if line.startswith("DONE")), "")
            subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True,
                           capture_output=True)  # fmt: skip
            proc.stdin.write("end\n")
            proc.stdin.flush()
            proc.wait(timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
        found = re.search(r"Collected : (\d+)", log.read_text())
        if not found:
            raise RuntimeError(f"{what}: no count in valgrind's log")
        return int(found.group(1)), done


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--offers", type=int, default=3000)
    parser.add_argument("--what", nargs="+", default=["engine", "bare"])
    parser.add_argument("--child", default=None)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.offers)
        return
    counts = {}
    for what in args.what:
        counts[what], done = count(what, args.offers)
        print(f"{what}: {counts[what]:,} instructions, {counts[what] / args.offers:,.0f} an offer"
              f" ({done})", flush=True)  # fmt: skip
    if "engine" in counts and "bare" in counts:
        print(f"bare / engine: {counts['bare'] / counts['engine']:.3f}")
    print(f"database: {os.environ.get('DATABASE_URL', 'SQLite (harness)')}")


if __name__ == "__main__":
    main()
