"""Import of a generated JSON Lines catalogue (issue #2). Prints figures; asserts nothing.

Generates N lines (default 100,000: parameters on every line, one of 20 real photos on every
tenth, a channel link on every line), imports them with `manage.py import_offers` into a
throwaway SQLite database in a child process, then imports the same file again (nothing
changes: the idempotent path). Prints seconds, lines/s and the child's peak RSS.

Usage: .venv/bin/python bench/import_offers.py [N]
"""

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def generate(path: Path, count: int) -> None:
    from PIL import Image

    photos = path.parent / "photos"
    photos.mkdir(exist_ok=True)
    for i in range(20):
        Image.new("RGB", (120, 120), (i * 12, 80, 200 - i * 8)).save(photos / f"p{i}.jpg")
    with path.open("w", encoding="utf-8") as fh:
        for n in range(count):
            line = {
                "sku": f"IMP-{n:07d}",
                "ean": f"{5900000000000 + n}",
                "name": f"Produkt importowany {n}",
                "description": f"<p>Opis produktu {n}</p>",
                "price": f"{n % 1000}.99",
                "currency": "PLN",
                "stock": n % 40,
                "parameters": [{"name": "Kolor", "value": "zielony"}, {"name": "Nr", "value": n}],
                "photos": [f"photos/p{n % 20}.jpg"] if n % 10 == 0 else [],
                "channels": [{"integration": "Sklep", "active": True, "external_id": str(n + 1)}],
            }
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def timed_import(path: Path) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "manage.py", "import_offers", str(path)],
        cwd=h.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return time.monotonic() - started, (done.stdout + done.stderr).strip().splitlines()[-1]


def main(count: int) -> None:
    h.setup_django()
    from integrations.models import Integration

    Integration.objects.create(
        name="Sklep",
        channel="woocommerce",
        api_url="https://sklep.example.pl",
        credentials={"consumer_key": "ck", "consumer_secret": "cs"},
    )
    path = h.WORKDIR / "offers.jsonl"
    generate(path, count)
    size = path.stat().st_size / 1024 / 1024
    print(f"## Import of {count} lines ({size:.0f} MiB), SQLite")
    for label in ("first import", "same file again"):
        seconds, summary = timed_import(path)
        print(f"- {label}: {seconds:.0f} s = {count / seconds:.0f} lines/s — {summary}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"- peak RSS of the import process: {peak:.0f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
