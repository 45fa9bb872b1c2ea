"""Amazon (Selling Partner API): its facts and limits with their sources
(docs/channels/amazon.md), and the descriptor the core reads it by."""

from django.utils.translation import gettext_lazy as _

from integrations.saleschannels.base import (
    MINUTE,
    BudgetSpec,
    ChannelDescriptor,
    ChannelFacts,
    Limit,
    SettingChoice,
    token_bucket,
)

# Product rule 2 (docs/architecture.md), hard-coded on purpose: never a setting. Amazon gets
# photos only when the photo set's hash differs from the one in the site journal.
ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT = False

# Amazon's Selling Partner API, Europe region, and Login with Amazon (docs/channels/amazon.md).
AMAZON_API_URL = "https://sellingpartnerapi-eu.amazon.com"
AMAZON_AUTH_URL = "https://api.amazon.com/auth/o2/token"
AMAZON_POLAND = "A1C3SOZRARQ6R3"

# Amazon's marketplaces by region, as Amazon publishes them (SP-API "Marketplace IDs",
# developer-docs.amazon.com/sp-api/docs/marketplace-ids; docs/channels/amazon.md): the seller picks
# a country by name; the id is what the API takes. A region's marketplaces are served by its
# host (Europe: AMAZON_API_URL).
AMAZON_MARKETPLACES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        _("Europe"),
        (
            (AMAZON_POLAND, _("Poland (amazon.pl)")),
            ("A1PA6795UKMFR9", _("Germany (amazon.de)")),
            ("A1F83G8C2ARO7P", _("United Kingdom (amazon.co.uk)")),
            ("A13V1IB3VIYZZH", _("France (amazon.fr)")),
            ("APJ6JRA9NG5V4", _("Italy (amazon.it)")),
            ("A1RKKUPIHCS9HS", _("Spain (amazon.es)")),
            ("A1805IZSGTT6HS", _("Netherlands (amazon.nl)")),
            ("AMEN7PMS3EDWL", _("Belgium (amazon.com.be)")),
            ("A2NODRKZP88ZB9", _("Sweden (amazon.se)")),
            ("A28R8C7NBKEWEA", _("Ireland (amazon.ie)")),
            ("A33AVAJ2PDY3EV", _("Turkey (amazon.com.tr)")),
            ("AE08WJ6YKNBMC", _("South Africa (amazon.co.za)")),
            ("ARBP9OOSHTCHU", _("Egypt (amazon.eg)")),
            ("A17E79C6D8DWNP", _("Saudi Arabia (amazon.sa)")),
            ("A2VIGQ35RCS4UG", _("United Arab Emirates (amazon.ae)")),
            ("A21TJRUUN4KGV", _("India (amazon.in)")),
        ),
    ),
    (
        _("North America"),
        (
            ("ATVPDKIKX0DER", _("United States (amazon.com)")),
            ("A2EUQ1WTGCTBG2", _("Canada (amazon.ca)")),
            ("A1AM78C64UM0Y8", _("Mexico (amazon.com.mx)")),
            ("A2Q3Y263D00KWC", _("Brazil (amazon.com.br)")),
        ),
    ),
    (
        _("Far East"),
        (
            ("A1VC38T7YXB528", _("Japan (amazon.co.jp)")),
            ("A39IBJ37TRP1C6", _("Australia (amazon.com.au)")),
            ("A19VAU5U5O7RUS", _("Singapore (amazon.sg)")),
        ),
    ),
)
AMAZON_MARKETPLACE_IDS = frozenset(
    marketplace for _region, marketplaces in AMAZON_MARKETPLACES for marketplace, _l in marketplaces
)

FACTS = ChannelFacts(
    # Listings Items PATCH: 5 requests/s per selling partner and application.
    requests_per_minute=300,
    chunk_size=100,  # 20 s of PATCHes at 5/s
    # A JSON_LISTINGS_FEED carries one chunk: at most 10,000 messages (the schema's
    # messages.maxItems; the 2025-05-06 changelog allows 25,000 — a deployment may raise
    # AMAZON_FEED_MAX_MESSAGES, never above this chunk).
    batch_chunk_size=10_000,
    batch_size=1,
    credential_keys=("client_id", "client_secret", "refresh_token"),
    external_id_kind="text",
    external_id_length=40,  # Amazon's seller SKU: at most 40 characters
    settings={
        "seller_id": "",
        "marketplace_id": AMAZON_POLAND,
        "language_tag": "pl_PL",
        "product_type": "PRODUCT",
    },
    default_urls={"api_url": AMAZON_API_URL, "auth_url": AMAZON_AUTH_URL},
    source=(
        "amzn/selling-partner-api-models (docs/channels/amazon.md): usage plans per selling "
        "partner and application, token buckets (rate/s, burst) — listingsItems_2021-08-01 "
        "patchListingsItem 5/5, getListingsItem 5/10, searchListingsItems 5/5; sellers v1 "
        "getMarketplaceParticipations 0.016/15; feeds_2021-06-30 createFeedDocument "
        "0.5/15, createFeed 0.0083/15, getFeed 2/15, getFeeds 0.0222/10, getFeedDocument "
        "0.0222/10; "
        "reports_2021-06-30 createReport 0.0167/15, getReport 2/15, getReportDocument "
        "0.0167/15. JSON_LISTINGS_FEED: 5 submissions per 5 minutes per region (SP-API "
        "changelog 2025-05-06), at most 10,000 messages (listings-feed-schema-v2.json "
        "messages.maxItems) and under 10 MiB a document (docs/channels/amazon.md)"
    ),
    budgets={
        "listings_patch": BudgetSpec(
            "partner",
            (token_bucket(5, 5),),
            _("listing edits"),
            _("Amazon's Listings Items edit limit"),
        ),
        "listings_get": BudgetSpec(
            "partner",
            (token_bucket(5, 10),),
            _("listing reads"),
            _("Amazon's Listings Items read limit"),
        ),
        # A feed's requests (its document, createFeed, its report's document) come one feed
        # at a time, a few feeds in all: Amazon's buckets admit their burst at once, so no
        # steady one-second window of ours spreads them (a chunk's second feed, and the
        # second of two reports due together, went a second late).
        "feed_documents": BudgetSpec(
            "partner",
            (token_bucket(0.5, 15),),
            _("requests"),
            _("Amazon's feed document limit"),
            steady=False,
        ),
        "feeds": BudgetSpec(
            "partner",
            (token_bucket(0.0083, 15),),
            _("feeds"),
            _("Amazon's feed submission limit"),
            steady=False,
        ),
        "listings_feeds": BudgetSpec(
            "partner",
            (Limit(5, 5 * MINUTE),),
            _("listings feeds"),
            _("Amazon's limit of listings feeds"),
            steady=False,
        ),
        "feed_reads": BudgetSpec(
            "partner", (token_bucket(2, 15),), _("requests"), _("Amazon's feed status limit")
        ),
        "feed_lists": BudgetSpec(
            "partner",
            (token_bucket(0.0222, 10),),
            _("requests"),
            _("Amazon's feed list limit"),
        ),
        "feed_results": BudgetSpec(
            "partner",
            (token_bucket(0.0222, 10),),
            _("requests"),
            _("Amazon's feed result document limit"),
            steady=False,
        ),
        "reports": BudgetSpec(
            "partner", (token_bucket(0.0167, 15),), _("reports"), _("Amazon's report limit")
        ),
        "report_reads": BudgetSpec(
            "partner", (token_bucket(2, 15),), _("requests"), _("Amazon's report status limit")
        ),
        "report_documents": BudgetSpec(
            "partner",
            (token_bucket(0.0167, 15),),
            _("requests"),
            _("Amazon's report document limit"),
        ),
        # A connection test's reads: sellers v1 getMarketplaceParticipations 0.016/s burst
        # 15; listingsItems_2021-08-01 searchListingsItems 5/s burst 5 (the models).
        "sellers": BudgetSpec(
            "partner",
            (token_bucket(0.016, 15),),
            _("requests"),
            _("Amazon's Sellers API limit"),
        ),
        "listings_search": BudgetSpec(
            "partner",
            (token_bucket(5, 5),),
            _("listing searches"),
            _("Amazon's Listings Items search limit"),
        ),
    },
    # Below AMAZON_FEED_THRESHOLD offers a run PATCHes each listing; above it, feeds carry
    # the offers and their estimate is the adapter's (AmazonAdapter.estimate_seconds).
    cost_per_offer={
        kind: {"listings_patch": 1, "integration": 1} for kind in ("all", "content", "prices_stock")
    },
)

# The sandbox's Amazon account "demo" is the selling partner with this merchant token (the
# sandbox derives it from the account's name: GET /_sandbox/amazon/demo/state → seller_id).
DEMO_AMAZON_SELLER_ID = "A076D44D22A187"

DESCRIPTOR = ChannelDescriptor(
    value="amazon",
    label="Amazon",
    facts=FACTS,
    always_send_binary_data_content=ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT,
    adapter="integrations.saleschannels.amazon.adapter.AmazonAdapter",
    changes="integrations.saleschannels.amazon.changes.send_changes",
    credential_labels={
        "client_id": _("Client ID"),
        "client_secret": _("Client secret"),
        "refresh_token": _("Refresh token"),
    },
    setting_labels={
        "seller_id": _("Seller ID"),
        "marketplace_id": _("Marketplace ID"),
        "language_tag": _("Language tag"),
        "product_type": _("Product type"),
    },
    # The marketplace chosen by country, not typed as an id; a saved id Amazon's list does not
    # have (an older or newer marketplace) stays selectable as it is.
    setting_choices={
        "marketplace_id": SettingChoice(
            groups=AMAZON_MARKETPLACES,
            label=_("Amazon marketplace"),
            help_text=_("The Amazon store the offers are listed in."),
            unknown_label=_("%(id)s (saved; not in Amazon's list)"),
            invalid_message=_("Choose a marketplace from the list."),
        )
    },
    url_fields=("auth_url",),
    fetches_photos_from_site=True,
    demo_credentials={
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
        "refresh_token": "sandbox-refresh",
    },
    demo_settings={"seller_id": DEMO_AMAZON_SELLER_ID},
    # Login with Amazon's token endpoint, emulated beside the API.
    sandbox_url_paths={"auth_url": "/auth/o2/token"},
)
