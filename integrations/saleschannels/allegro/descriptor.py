"""Allegro: its facts and limits with their sources (docs/channels/allegro.md), and the
descriptor the core reads it by."""

from django.utils.translation import gettext_lazy as _

from integrations.saleschannels.base import (
    HOUR,
    MINUTE,
    BudgetSpec,
    ChannelDescriptor,
    ChannelFacts,
    Limit,
)

# Product rule 2 (docs/architecture.md), hard-coded on purpose: never a setting. A resync
# uploads Allegro's photo binaries again every time.
ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT = True

# Allegro's hosts other than the API's, where an integration leaves them empty.
ALLEGRO_AUTH_URL = "https://allegro.pl/auth/oauth/token"
ALLEGRO_UPLOAD_URL = "https://upload.allegro.pl"
# An offer's public page, for the drift report.
ALLEGRO_OFFER_URL = "https://allegro.pl/oferta/{id}"

FACTS = ChannelFacts(
    requests_per_minute=9_000,
    chunk_size=200,
    batch_chunk_size=5_000,
    batch_size=1,
    credential_keys=("client_id", "client_secret", "access_token", "refresh_token"),
    source=(
        "developer.allegro.pl and Allegro staff (allegro/allegro-api #9983, #12700, Nov "
        "2025): 9,000 requests/min per application (Client ID) over all its sellers — over "
        "it, 429 and a one-minute block of the Client ID; per seller, PATCH and POST "
        "/sale/product-offers together 2,490/min and 74,700/h; GET /sale/product-offers/{id} "
        "3,500/min. Batch commands (allegro-openapi.yaml: PUT /sale/offer-price-change-"
        "commands/{commandId}, /sale/offer-quantity-change-commands/{commandId}; staff in "
        "allegro/allegro-api #6434, #11266): per user, price changes 9,000/min and 150,000/h "
        "(since April 2025), quantity changes 9,000/min and 250,000/h, counted in offers, at "
        "most 1,000 offers and one value a command; their report reads 270,000 offer changes"
        "/min (the spec's GET descriptions)"
    ),
    budgets={
        "app": BudgetSpec(
            "app", (Limit(9_000, MINUTE),), _("requests"), _("Allegro's application limit")
        ),
        "edits": BudgetSpec(
            "seller",
            (Limit(2_490, MINUTE), Limit(74_700, HOUR)),
            _("edits"),
            _("Allegro's limit of offer edits per seller"),
        ),
        "reads": BudgetSpec(
            "seller",
            (Limit(3_500, MINUTE),),
            _("reads"),
            _("Allegro's limit of offer reads per seller"),
        ),
        # Batch commands count offers, not requests (one command of 1,000 offers spends
        # 1,000), per user, apart from PATCH's edits.
        "price_commands": BudgetSpec(
            "seller",
            (Limit(9_000, MINUTE), Limit(150_000, HOUR)),
            _("price changes"),
            _("Allegro's limit of price changes by command per seller"),
            steady=False,
        ),
        "quantity_commands": BudgetSpec(
            "seller",
            (Limit(9_000, MINUTE), Limit(250_000, HOUR)),
            _("stock changes"),
            _("Allegro's limit of stock changes by command per seller"),
            steady=False,
        ),
        "command_reads": BudgetSpec(
            "seller",
            (Limit(270_000, MINUTE),),
            _("offer changes read"),
            _("Allegro's limit of command report reads per seller"),
            steady=False,
        ),
    },
    # A prices-and-stock resync sends each offer by PATCH or by a price and a quantity
    # command (saleschannels/allegro/commands.py): both paths at once, shared so that they
    # finish together.
    parallel_paths={"prices_stock": ("edits", ("price_commands", "quantity_commands"))},
    # One PATCH per offer; each photo upload spends the app budget too (not with prices
    # and stock only: no photo is sent then).
    cost_per_offer={
        "all": {"app": 1, "edits": 1, "integration": 1},
        "content": {"app": 1, "edits": 1, "integration": 1},
        # PATCH takes a share; commands carry the rest, about a request per 100 offers.
        "prices_stock": {"app": 0.5, "integration": 0.5},
    },
    cost_per_photo={"app": 1, "integration": 1},
)


def budget_urls(integration) -> tuple[str, ...]:
    """Allegro counts an application over its hosts: uploads and login besides the API."""
    return (
        integration.upload_url or ALLEGRO_UPLOAD_URL,
        integration.auth_url or ALLEGRO_AUTH_URL,
    )


def listing_url(integration, external_id: str, data: dict) -> str:
    """The offer's public page."""
    return (
        ALLEGRO_OFFER_URL.format(id=external_id)
        if external_id.isascii() and external_id.isdigit()
        else ""
    )


def drift_report_notes(report: dict) -> tuple:
    if report.get("full_reads"):
        return ()
    return (
        _(
            "Description, parameters and photos need each offer read on its own: choose a "
            "content check to compare them."
        ),
    )


DESCRIPTOR = ChannelDescriptor(
    value="allegro",
    label="Allegro",
    facts=FACTS,
    always_send_binary_data_content=ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT,
    adapter="integrations.saleschannels.allegro.adapter.AllegroAdapter",
    changes="integrations.saleschannels.allegro.changes.send_changes",
    credential_labels={
        "client_id": _("Client ID"),
        "client_secret": _("Client secret"),
        "access_token": _("Access token"),
        "refresh_token": _("Refresh token"),
    },
    url_fields=("upload_url", "auth_url"),
    budget_urls=budget_urls,
    # The sandbox accepts these demo credentials for every account it has not been told
    # otherwise.
    demo_credentials={
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
        "access_token": "sandbox-access",
        "refresh_token": "sandbox-refresh",
    },
    sandbox_url_paths={"upload_url": "/upload", "auth_url": "/auth/oauth/token"},
    demo_showcase="integrations.saleschannels.allegro.demo.showcase",
    listing_url=listing_url,
    drift_report_notes=drift_report_notes,
)
