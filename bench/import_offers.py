"""Import of a generated JSON Lines catalogue (issues #2, #28). Prints figures; asserts nothing.

Generates N lines (default 100,000: parameters on every line, one of 20 real photos on every
tenth, a channel link on every line), imports them with `manage.py import_offers` into a fresh
database in a child process, then imports the same file again (nothing changes: the idempotent
path). Prints seconds, lines/s and the import process's own peak RSS (`resource.getrusage` in
the child, so the migration and the generation are not counted).

Every checkout given with `--root` is measured in turn on the same file, each against a fresh
database migrated by its own code, with its own venv's python (ROOT/.venv/bin/python): the
branch and main side by side in one run.

Usage:
    .venv/bin/python bench/import_offers.py [N] [--root DIR ...] [--database sqlite|postgres]
(--database postgres: drops and creates the database `bench_import` on 127.0.0.1:5432, or the
one named by --pg-url; never point it at a database tests use.)
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

# The import command, run in this child, reports its own peak RSS.
MEASURED_IMPORT = """
import resource, runpy, sys
sys.argv = ["manage.py", "import_offers", sys.argv[1]]
try:
    runpy.run_path("manage.py", run_name="__main__")
finally:
    print(f"peak_rss_kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
"""

MAKE_INTEGRATION = """
from integrations.models import Integration
Integration.objects.create(
    name="Sklep",
    channel="woocommerce",
    api_url="https://sklep.example.pl",
    credentials={"consumer_key": "ck", "consumer_secret": "cs"},
)
"""


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


def python_of(root: Path) -> str:
    venv = root / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def fresh_database(kind: str, pg_url: str, tag: str) -> str:
    if kind == "sqlite":
        path = h.WORKDIR / f"import-{tag}.sqlite3"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    name = pg_url.rsplit("/", 1)[1]
    server = pg_url.rsplit("/", 1)[0]
    if name in ("test", "postgres", "template0", "template1"):
        sys.exit(f"refusing to drop the database {name!r}")
    host_args = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["dropdb", *host_args, "--if-exists", name], check=True)
    subprocess.run(["createdb", *host_args, name], check=True)
    return f"{server}/{name}"


def timed_import(root: Path, env: dict, path: Path) -> tuple[float, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [python_of(root), "-c", MEASURED_IMPORT, str(path)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    output = (done.stdout + done.stderr).splitlines()
    peak = next((int(x.split("=")[1]) for x in output if x.startswith("peak_rss_kib=")), 0)
    # The summary, in the command's language (a checkout before it spoke Polish: English).
    said = ("Imported", "Zaimportowano")
    summary = next(
        (x for x in reversed(output) if any(w in x for w in said)), output[-1] if output else ""
    )
    return seconds, summary.strip(), peak / 1024


def measure(root: Path, database: str, pg_url: str, path: Path, count: int) -> None:
    tag = root.name
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database(database, pg_url, tag),
        "MEDIA_ROOT": str(h.WORKDIR / f"media-{tag}"),
    }
    python = python_of(root)
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=root, env=env, check=True)
    subprocess.run(
        [python, "manage.py", "shell", "-c", MAKE_INTEGRATION],
        cwd=root,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"### {root} ({database})", flush=True)
    for label in ("first import", "same file again"):
        seconds, summary, peak = timed_import(root, env, path)
        print(
            f"- {label}: {seconds:.1f} s = {count / seconds:,.0f} lines/s, "
            f"peak RSS {peak:.0f} MiB — {summary}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("count", nargs="?", type=int, default=100_000)
    parser.add_argument("--root", type=Path, action="append", help="a checkout (repeatable)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/bench_import")
    args = parser.parse_args()
    roots = [r.resolve() for r in args.root or [h.ROOT]]
    path = h.WORKDIR / "offers.jsonl"
    generate(path, args.count)
    size = path.stat().st_size / 1024 / 1024
    print(f"## Import of {args.count:,} lines ({size:.0f} MiB), {args.database}", flush=True)
    for root in roots:
        measure(root, args.database, args.pg_url, path, args.count)


if __name__ == "__main__":
    main()
