"""Mirakl's CSV files: an import's file (`;`-separated, every cell quoted, UTF-8) and the
error report Mirakl answers it with (OF03, P44, P47: "a file like the input" with the errors)."""

from __future__ import annotations

import csv
import io

REPORT_MAX_LINES = 100_000


def csv_file(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def offer_columns(send_content: bool, send_prices_stock: bool) -> tuple[str, list[str]]:
    """(OF01 import mode, columns) for what a run sends."""
    if send_content and send_prices_stock:
        return "NORMAL", [
            "sku",
            "product-id",
            "product-id-type",
            "description",
            "price",
            "quantity",
            "state",
        ]
    if send_content:
        return "NORMAL", ["sku", "product-id", "product-id-type", "description"]
    return "PARTIAL_UPDATE", ["sku", "price", "quantity"]


def parse_error_report(content: bytes, keys: list[str], code: str) -> dict[str, list]:
    """An error report ("a file like the input" with the errors): {key: [code, message]}.

    The line is named by its SKU column (`sku`, `offer-sku`) or else by `error-line` (the
    header being line 1). The message is the `error-message` column (the sandbox's reading of
    the operators' reports), else the last column. At most REPORT_MAX_LINES lines are read."""
    text = content.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text), delimiter=";")
    header = [h.strip().lower() for h in next(_rows(reader), [])]
    if not header:
        return {}
    sku_at = next((header.index(c) for c in ("sku", "offer-sku") if c in header), None)
    line_at = header.index("error-line") if "error-line" in header else None
    message_at = header.index("error-message") if "error-message" in header else len(header) - 1
    errors: dict[str, list] = {}
    known = set(keys)
    for n, row in enumerate(_rows(reader)):
        if n >= REPORT_MAX_LINES:
            break
        key = row[sku_at].strip() if sku_at is not None and sku_at < len(row) else ""
        if key not in known and line_at is not None and line_at < len(row):
            line = row[line_at].strip()
            if line.isdigit() and 2 <= int(line) < len(keys) + 2:
                key = keys[int(line) - 2]
        if key in known:
            message = row[message_at].strip() if message_at < len(row) else ""
            errors.setdefault(key, [code, message])
    return errors


def _rows(reader):
    """The report's rows until one cannot be read (a field over csv's limit, a stray NUL):
    the lines before it count, the rest is not read — a hostile report never raises."""
    while True:
        try:
            yield next(reader)
        except (StopIteration, csv.Error):
            return
