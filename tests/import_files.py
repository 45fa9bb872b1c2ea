"""Lines of an offers file (JSONL) and the `import_offers` command run on one, for the import's
tests."""

from django.core.management import CommandError, call_command


def offer_line(sku="SKU-1", **overrides):
    line = {
        "sku": sku,
        "ean": "5901234123457",
        "name": "Kubek ceramiczny",
        "description": "<p>Biały kubek</p>",
        "price": "129.99",
        "currency": "PLN",
        "stock": 7,
        "parameters": [
            {"name": "Kolor", "value": "biały"},
            {"name": "Pojemność", "value": "350 ml"},
        ],
        "photos": [],
        "channels": [],
    }
    line.update(overrides)
    return line


def run_import(path, language="en"):
    """The command on `path`, in `language` (the tests read its English words unless they ask
    for the product's Polish): (exit code, output, error output)."""
    out, err = [], []

    class W:
        def __init__(self, sink):
            self.sink = sink

        def write(self, s):
            self.sink.append(s)

        def flush(self):
            pass

    try:
        call_command("import_offers", str(path), language=language, stdout=W(out), stderr=W(err))
        code = 0
    except CommandError as exc:
        err.append(str(exc))
        code = 1
    return code, "".join(out), "".join(err)
