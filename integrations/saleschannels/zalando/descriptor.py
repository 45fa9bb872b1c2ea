"""Zalando (zDirect): its facts and limits with their sources (docs/channels/zalando.md), and
the descriptor the core reads it by."""

from django.utils.translation import gettext_lazy as _

from integrations.saleschannels.base import (
    MINUTE,
    SECOND,
    BudgetSpec,
    ChannelDescriptor,
    ChannelFacts,
    Limit,
)

# Product rule 2 (docs/architecture.md), hard-coded on purpose: never a setting. A resync
# uploads Zalando's photo binaries again every time.
ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT = True

FACTS = ChannelFacts(
    requests_per_minute=1_500,
    chunk_size=250,
    batch_size=1_000,
    credential_keys=("client_id", "client_secret", "merchant_id", "sales_channel_id"),
    external_id_kind="",  # products go by our SKU and EAN
    source=(
        "zDirect Partner API, per merchant, fixed minute windows: product submissions "
        "25 requests/s; prices 30 requests/min and 8,000 updates/min; stocks 60 "
        "requests/min and 2,000 updates/min (offers-stocks-api); batches of up to 1,000 "
        "EANs; token requests 8/min"
    ),
    budgets={
        "submissions": BudgetSpec(
            "merchant",
            (Limit(25, SECOND),),
            _("product submissions"),
            _("Zalando's limit of product submissions"),
        ),
        "price_requests": BudgetSpec(
            "merchant", (Limit(30, MINUTE),), _("requests"), _("Zalando's price request limit")
        ),
        "price_updates": BudgetSpec(
            "merchant",
            (Limit(8_000, MINUTE),),
            _("price updates"),
            _("Zalando's limit of price updates"),
        ),
        "stock_requests": BudgetSpec(
            "merchant", (Limit(60, MINUTE),), _("requests"), _("Zalando's stock request limit")
        ),
        "stock_updates": BudgetSpec(
            "merchant",
            (Limit(2_000, MINUTE),),
            _("stock updates"),
            _("Zalando's limit of stock updates"),
        ),
        "tokens": BudgetSpec(
            "merchant", (Limit(8, MINUTE),), _("requests"), _("Zalando's token request limit")
        ),
    },
    cost_per_offer={
        "all": {
            "submissions": 1,
            "price_updates": 1,
            "stock_updates": 1,
            "price_requests": 1 / 250,
            "stock_requests": 1 / 250,
            "integration": 1 + 2 / 250,
        },
        "content": {"submissions": 1, "integration": 1},
        "prices_stock": {
            "price_updates": 1,
            "stock_updates": 1,
            "price_requests": 1 / 250,
            "stock_requests": 1 / 250,
            "integration": 2 / 250,
        },
    },
)


DESCRIPTOR = ChannelDescriptor(
    value="zalando",
    label="Zalando",
    facts=FACTS,
    always_send_binary_data_content=ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT,
    adapter="integrations.saleschannels.zalando.adapter.ZalandoAdapter",
    changes="integrations.saleschannels.zalando.changes.send_changes",
    credential_labels={
        "client_id": _("Client ID"),
        "client_secret": _("Client secret"),
        "merchant_id": _("Merchant ID"),
        "sales_channel_id": _("Sales channel ID"),
    },
    demo_credentials={
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
        "merchant_id": "demo-merchant",
        "sales_channel_id": "01924c48-49bb-40c2-9c32-ab582e6db6f4",
    },
)
