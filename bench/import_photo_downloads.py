"""Memory of an import whose photos are URLs (issue #9). Prints figures; asserts nothing.

Serves 20 distinct ~1.4 MB JPEGs from a local HTTP server, writes LINES lines with PHOTOS photo
URLs each, and imports them with `manage.py import_offers` into a throwaway SQLite database in
a child process; prints the time and the import process's own peak RSS.

Usage: .venv/bin/python bench/import_photo_downloads.py [--lines 40] [--photos 5] [--root DIR]
    [--latency SECONDS]
(--root: another checkout of xSale to measure, e.g. the code before the fix; --latency: the
server waits this long before each answer, as a distant host would.)
"""

import argparse
import functools
import http.server
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

# The import command, run in this child, reports its own peak RSS (not the migrate's).
MEASURED_IMPORT = """
import resource, runpy, sys
sys.argv = ["manage.py", "import_offers", sys.argv[1], "--language", "en"]
try:
    runpy.run_path("manage.py", run_name="__main__")
finally:
    print(f"peak_rss_kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    latency = 0.0

    def do_GET(self):
        time.sleep(self.latency)
        super().do_GET()

    def log_message(self, *args):
        pass


def make_photos(folder: Path, count: int = 20) -> int:
    from PIL import Image

    folder.mkdir(exist_ok=True)
    rng = random.Random(9)
    for i in range(count):
        img = Image.frombytes("RGB", (1200, 1000), rng.randbytes(1200 * 1000 * 3))
        img.save(folder / f"p{i}.jpg", quality=95)
    return sum(p.stat().st_size for p in folder.iterdir()) // count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--photos", type=int, default=5)
    parser.add_argument("--root", type=Path, default=h.ROOT)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    QuietHandler.latency = args.latency

    www = h.WORKDIR / "www"
    average = make_photos(www)
    handler = functools.partial(QuietHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    path = h.WORKDIR / "offers.jsonl"
    with path.open("w") as fh:
        for n in range(args.lines):
            photos = [f"{base}/p{(n * args.photos + k) % 20}.jpg" for k in range(args.photos)]
            line = {"sku": f"P-{n}", "name": f"Produkt {n}", "price": "9.99", "photos": photos}
            fh.write(json.dumps(line) + "\n")

    env = dict(os.environ)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=args.root, env=env, check=True
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", MEASURED_IMPORT, str(path)],
        cwd=args.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    server.shutdown()
    peak = next(
        int(line.split("=")[1]) for line in done.stderr.splitlines() if "peak_rss_kib" in line
    )
    summary = [line for line in (done.stdout + done.stderr).splitlines() if "Imported" in line]
    print(
        f"{args.lines} lines × {args.photos} photos of {average / 1024 / 1024:.1f} MB "
        f"({args.root}, latency {args.latency:g} s): {seconds:.1f} s, "
        f"peak RSS {peak / 1024:.0f} MiB — {summary}"
    )


if __name__ == "__main__":
    main()
