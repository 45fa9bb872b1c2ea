"""Peak memory and time of reading the channel answers issue 24 found from outside, the way
xSale read them before (json.loads of the whole document, readline() with no limit, count()
over every line, f"{Decimal(x):.2f}", response.json()) and the way it reads them now
(integrations/shopconnect/bounded.py). Each case runs in a fresh process; memory is the growth
of its peak resident set (VmHWM) over what it held before the case.

    DEBUG=1 .venv/bin/python bench/hostile_answers.py            # every case
    DEBUG=1 .venv/bin/python bench/hostile_answers.py price       # one case

Not a test: the "before" column allocates what the issue measured (a gigabyte string).
"""

import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ("report_issues", "endless_line", "empty_lines", "price", "entries", "nesting")


def make_inputs(folder: Path) -> None:
    issue = b'{"messageId":1,"code":"99001","severity":"WARNING","message":"m"}'
    report = (
        b'{"header":{"sellerId":"A"},"issues":['
        + b",".join([issue] * 3_100_000)
        + b'],"summary":{"messagesProcessed":1}}'
    )
    (folder / "report_issues.gz").write_bytes(gzip.compress(report, 9))
    (folder / "endless_line.gz").write_bytes(gzip.compress(b"a" * 64 * 1024 * 1024, 9))
    (folder / "empty_lines.gz").write_bytes(
        gzip.compress(b"seller-sku\tprice\n" + b"\n" * (256 * 1024 * 1024), 9)
    )
    count = (8 * 1024 * 1024 - 1026) // 3
    (folder / "entries.json").write_bytes(b"[" + b",".join([b"{}"] * count) + b"]")
    (folder / "nesting.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)


def hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def inflated(folder: Path, name: str):
    """The document as xSale holds it before reading: inflated into a temporary file."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 (returned open)
    with gzip.open(folder / name, "rb") as raw:
        while chunk := raw.read(1024 * 1024):
            out.write(chunk)
    out.seek(0)
    return out


def run_case(case: str, variant: str, folder: Path) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xsale.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from decimal import Decimal

    from integrations.shopconnect import amazon_documents, bounded

    file = None
    if case in ("report_issues", "endless_line", "empty_lines"):
        file = inflated(folder, f"{case}.gz")
    data = (folder / f"{case}.json").read_bytes() if case in ("entries", "nesting") else None
    before_hwm = hwm()
    started = time.monotonic()
    try:
        if variant == "before":
            if case == "report_issues":
                value = json.loads(file.read().decode("utf-8"))
                outcome = f"read {len(value['issues']):,} issues"
            elif case == "endless_line":
                outcome = f"read a line of {len(file.readline()):,} bytes"
            elif case == "empty_lines":
                file.readline()
                lines = sum(1 for line in iter(file.readline, b"") if line.strip())
                outcome = f"counted {lines:,} rows"
            elif case == "price":
                text = format(Decimal("1e999999999"), ".2f")
                outcome = f"formatted {len(text):,} chars"
            else:
                value = json.loads(data)
                outcome = f"parsed {type(value).__name__} of {len(value):,}"
        else:
            if case == "report_issues":
                bounded.json_document(  # issues counted, not kept: the adapter keeps 20 a message
                    file, encoding="utf-8", what="report", array="issues", take=lambda issue: None
                )
                outcome = "read the report"
            elif case in ("endless_line", "empty_lines"):
                document = amazon_documents.TabDocument(file)
                outcome = f"counted {document.total:,} rows"
            elif case == "price":
                outcome = f"formatted {bounded.amount_text('1e999999999', what='the price')}"
            else:
                value = bounded.parse_json(data, what="The answer")
                outcome = f"parsed {type(value).__name__}"
    except Exception as exc:  # the bound's refusal (or the old code's crash)
        outcome = f"{type(exc).__name__}: {str(exc)[:90]}"
    seconds = time.monotonic() - started
    return {"seconds": seconds, "memory": max(hwm() - before_hwm, 0), "outcome": outcome}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--case":
        case, variant, folder = sys.argv[2], sys.argv[3], Path(sys.argv[4])
        print(json.dumps(run_case(case, variant, folder)))
        return
    cases = [c for c in CASES if len(sys.argv) < 2 or c in sys.argv[1:]]
    with tempfile.TemporaryDirectory() as folder:
        make_inputs(Path(folder))
        sizes = {p.name: p.stat().st_size for p in Path(folder).iterdir()}
        print("inputs:", ", ".join(f"{name} {size:,} B" for name, size in sorted(sizes.items())))
        print("| case | variant | time | peak memory growth | outcome |\n|---|---|---|---|---|")
        for case in cases:
            for variant in ("before", "after"):
                done = subprocess.run(
                    [sys.executable, __file__, "--case", case, variant, folder],
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                    env={**os.environ, "DEBUG": os.environ.get("DEBUG", "1")},
                )
                try:
                    result = json.loads(done.stdout.strip().splitlines()[-1])
                except (IndexError, ValueError):
                    print(f"| {case} | {variant} | – | – | died: {done.stderr[-200:]!r} |")
                    continue
                print(
                    f"| {case} | {variant} | {result['seconds']:.2f} s | "
                    f"{result['memory'] / 1024 / 1024:,.1f} MiB | {result['outcome']} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
