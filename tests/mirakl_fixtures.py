"""A Mirakl integration on a sandbox account whose call frequencies and processing are scaled
down (a "minute" of 0.2 s, a "day" of 20 s), with xSale's budgets scaled to match: each budget
window at least the sandbox's, so pacing by the budgets can never exceed a frequency."""

import requests

from integrations.models import Integration
from integrations.services.demo import DEMO_CREDENTIALS

MINUTE = 0.2
DAY = 20
# xSale's windows (whole seconds), each at least the sandbox's scaled one.
FAST_LIMITS = {
    **{
        name: [[1, 1]]
        for name in (
            "of01",
            "of02",
            "of03",
            "of04",
            "p42",
            "p44",
            "p47",
            "p51",
            "of52_differential",
            "of53",
            "of21",
        )
    },
    "p41": [[1, 3]],
    "of52_full": [[1, DAY]],
}
SANDBOX_FAST = {
    "minute_seconds": MINUTE,
    "day_seconds": DAY,
    "import_queue_seconds": 0.05,
    "import_processing_seconds": 0.1,
    "product_processing_seconds": 0.5,
    "export_processing_seconds": 0.2,
}


def mirakl_integration(sandbox, account, settings, **channel_settings) -> Integration:
    settings.CHANNEL_LIMITS = {"mirakl": FAST_LIMITS}
    settings.SITE_URL = "https://xsale.example.pl"
    settings.RESYNC_TASK_SECONDS = 0
    sandbox.configure("mirakl", account, **SANDBOX_FAST)
    return Integration.objects.create(
        name=f"mirakl-{account}",
        channel="mirakl",
        credentials=dict(DEMO_CREDENTIALS["mirakl"]),
        channel_settings={"product_category": "kubki", **channel_settings},
        **sandbox.integration_urls("mirakl", account),
    )


def seed(sandbox, account, offers: list[dict]) -> dict:
    response = requests.post(
        f"{sandbox.url}/_sandbox/mirakl/{account}/seed", json={"offers": offers}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def held(sandbox, account) -> dict:
    """The shop's offers by SKU, as the sandbox holds them."""
    return sandbox.state("mirakl", account)["offers"]


def frequencies_kept(sandbox, account) -> dict:
    counters = sandbox.state("mirakl", account)["counters"]
    assert counters["throttled"] == 0, counters
    assert counters["limit_violations"] == 0, counters
    return counters["by_endpoint"]


def form_fields(body: bytes, content_type: str) -> dict[str, bytes]:
    """A multipart/form-data body's fields, read with the standard library's parser."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    return {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in message.iter_parts()
    }


def sent_files(wire, path: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """The import files posted to `path` ("/api/offers/imports", "/api/products/imports"):
    [(import mode or "", header, rows)], in order."""
    import csv
    import io

    files = []
    for sent in wire.matching("POST", path):
        fields = form_fields(sent.body, sent.headers["Content-Type"])
        header, *rows = csv.reader(io.StringIO(fields["file"].decode()), delimiter=";")
        files.append((fields.get("import_mode", b"").decode(), header, rows))
    return files
