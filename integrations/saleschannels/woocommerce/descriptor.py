"""WooCommerce: its facts and limits with their sources (docs/channels/woocommerce.md), and the
descriptor the core reads it by."""

from django.utils.translation import gettext_lazy as _

from integrations.saleschannels.base import (
    ChannelDescriptor,
    ChannelFacts,
    web_url,
)

# Product rule 2 (docs/architecture.md), hard-coded on purpose: never a setting. A shop gets
# photos only when the photo set's hash differs from the one in the site journal.
ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT = False

FACTS = ChannelFacts(
    requests_per_minute=60,
    chunk_size=400,  # four batches of 100: all in flight at once (see woocommerce.py)
    batch_size=100,
    credential_keys=("consumer_key", "consumer_secret"),
    source=(
        "WooCommerce REST API v3 publishes no rate limit; batch endpoints take at most 100 "
        "objects. A shop counts what its hosting allows: we default to a gentle 1 request/s "
        "per shop; set the integration's requests/min to match the shop's hosting"
    ),
    budgets={},
    cost_per_offer={
        kind: {"shop": 1 / 100, "integration": 1 / 100}
        for kind in ("all", "content", "prices_stock")
    },
)


def listing_url(integration, external_id: str, data: dict) -> str:
    """The product's permalink as the shop listed it, else its edit page in the shop's
    admin."""
    permalink = web_url((data or {}).get("permalink"))
    if permalink:
        return permalink
    shop = web_url(integration.api_url)
    if shop and external_id.isascii() and external_id.isdigit():
        return f"{shop.rstrip('/')}/wp-admin/post.php?post={external_id}&action=edit"
    return ""


def drift_report_notes(report: dict) -> tuple:
    return (_("The shop's currency is a setting of the shop: not compared."),)


DESCRIPTOR = ChannelDescriptor(
    value="woocommerce",
    label="WooCommerce",
    facts=FACTS,
    always_send_binary_data_content=ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT,
    adapter="integrations.saleschannels.woocommerce.adapter.WooCommerceAdapter",
    changes="integrations.saleschannels.woocommerce.changes.send_changes",
    credential_labels={
        "consumer_key": _("Consumer key"),
        "consumer_secret": _("Consumer secret"),
    },
    # A shop counts what its hosting allows: one budget per shop, whatever the integration.
    requests_counted_per_shop=True,
    demo_credentials={"consumer_key": "ck_sandbox", "consumer_secret": "cs_sandbox"},
    demo_showcase="integrations.saleschannels.woocommerce.demo.showcase",
    listing_url=listing_url,
    drift_report_notes=drift_report_notes,
)
