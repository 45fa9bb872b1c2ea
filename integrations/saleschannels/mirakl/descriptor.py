"""Mirakl (Empik and the other Mirakl marketplaces): its facts and limits with their sources
(docs/channels/mirakl.md), and the descriptor the core reads it by.

Mirakl publishes call frequencies per call type and shop ("once a minute", "every 15 minutes",
"once a day"), not request rates: each call type the adapter uses is a budget of its own with
its one published window. How the adapter avoids the API's traps (adapter.py, imports.py):

- OF24 resets every offer field it is not sent (quantity to 0): xSale never calls OF24. Offers
  go by OF01 files, whose NORMAL mode leaves the columns not in the file alone.
- REPLACE deletes every offer not in the file: xSale never sends it (NORMAL, PARTIAL_UPDATE).
- PRI01 deletes every price of an offer it is not sent (discount, channel and volume prices,
  which xSale does not know): xSale never calls PRI01. A prices-and-stock run sends price and
  quantity by an OF01 PARTIAL_UPDATE file (`sku;price;quantity`: only non-empty cells change,
  the discount stays). Not STO01 either: Mirakl publishes no list of stock imports, so a lost
  STO01 answer could not be found again without sending the import twice (OF04 finds OF01's).
"""

from django.utils.translation import gettext_lazy as _

from integrations.saleschannels.base import (
    MINUTE,
    BudgetSpec,
    ChannelDescriptor,
    ChannelFacts,
    Limit,
)

# Product rule 2 (docs/architecture.md), hard-coded on purpose: never a setting. Mirakl gets
# photo URLs only when the photo set's hash differs from the one in the site journal (or the
# channel was re-activated on the offer).
ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT = False

# Empik's instance (reported, unconfirmed by Empik: docs/channels/mirakl.md); every call is
# under {instance}/api/.
EMPIK_API_URL = "https://marketplace.empik.com"
DAY = 24 * 3600

# (budget name, call code, the call's published maximum frequency, its label)
CALLS = (
    ("of01", "OF01", Limit(1, MINUTE), _("Mirakl's offer import limit (OF01)")),
    ("of02", "OF02", Limit(1, MINUTE), _("Mirakl's offer import status limit (OF02)")),
    ("of03", "OF03", Limit(1, MINUTE), _("Mirakl's offer error report limit (OF03)")),
    ("of04", "OF04", Limit(1, MINUTE), _("Mirakl's offer import list limit (OF04)")),
    ("p41", "P41", Limit(1, 15 * MINUTE), _("Mirakl's product import limit (P41)")),
    ("p42", "P42", Limit(1, MINUTE), _("Mirakl's product import status limit (P42)")),
    ("p44", "P44", Limit(1, MINUTE), _("Mirakl's product error report limit (P44)")),
    ("p47", "P47", Limit(1, MINUTE), _("Mirakl's product format report limit (P47)")),
    ("p51", "P51", Limit(1, MINUTE), _("Mirakl's product import list limit (P51)")),
    ("of52_full", "OF52", Limit(1, DAY), _("Mirakl's full offer export limit (OF52)")),
    (
        "of52_differential",
        "OF52",
        Limit(1, MINUTE),
        _("Mirakl's differential offer export limit (OF52)"),
    ),
    ("of53", "OF53", Limit(1, 10), _("Mirakl's offer export status limit (OF53)")),
    ("of21", "OF21", Limit(1, 10), _("Mirakl's offer list limit (OF21, xSale's own pace)")),
)

FACTS = ChannelFacts(
    # Mirakl publishes no request rate: our own gentle limit per integration besides the call
    # frequencies (every request spends one).
    requests_per_minute=60,
    # Every run goes by imports (goes_in_batches): a chunk is one import of each kind.
    chunk_size=1000,
    batch_chunk_size=20_000,
    batch_size=20_000,
    credential_keys=("api_key",),
    external_id_kind="text",
    external_id_length=64,  # the shop SKU (OF01 `sku`)
    settings={
        "shop_id": "",
        "channel_code": "",
        "product_id_type": "EAN",
        "product_category": "",
        "state_code": "11",
    },
    default_urls={"api_url": EMPIK_API_URL},
    source=(
        "Mirakl seller API (developer.mirakl.com/content/product/mmp/rest/seller/openapi3), each "
        "call's maximum usage per shop: OF01, OF02, OF03, OF04 once a minute; P41 every 15 "
        "minutes per seller; P42, P44, P47, P51 once a minute; OF52 full once a day, "
        "differential once a minute; OF53 every 10 seconds; A01 once a day (not used: "
        "docs/channels/mirakl.md)"
    ),
    budgets={
        name: BudgetSpec("seller", (limit,), _("calls"), label, False)
        for name, code, limit, label in CALLS
    },
    # An import carries a chunk (batch_chunk_size offers): the calls per offer are tiny.
    cost_per_offer={
        "all": {"of01": 1 / 20_000, "p41": 1 / 20_000, "integration": 4 / 20_000},
        "content": {"of01": 1 / 20_000, "p41": 1 / 20_000, "integration": 4 / 20_000},
        "prices_stock": {"of01": 1 / 20_000, "integration": 3 / 20_000},
    },
)


def listing_url(integration, external_id: str, data: dict) -> str:
    return ""


def drift_report_notes(report: dict) -> tuple:
    return (
        _(
            "Mirakl's offer export gives the offer's price, quantity and description; the "
            "product's title, attributes and images belong to the operator's catalogue and "
            "are not compared."
        ),
    )


DESCRIPTOR = ChannelDescriptor(
    value="mirakl",
    label="Mirakl (Empik)",
    facts=FACTS,
    always_send_binary_data_content=ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT,
    adapter="integrations.saleschannels.mirakl.adapter.MiraklAdapter",
    credential_labels={"api_key": _("Shop API key")},
    setting_labels={
        "shop_id": _("Shop ID (optional)"),
        "channel_code": _("Channel code (optional)"),
        "product_id_type": _("Product ID type for new offers"),
        "product_category": _("Default product category"),
        "state_code": _("Offer state code"),
    },
    fetches_photos_from_site=True,
    demo_credentials={"api_key": "sandbox-shop-key"},
    demo_settings={"product_category": "demo"},
    listing_url=listing_url,
    drift_report_notes=drift_report_notes,
)
