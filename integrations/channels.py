"""The sales channels xSale talks to, and the facts about each that the engine paces by.

Sources for every limit are in ../shared/reference/CHANNELS.md (taken from the channels'
published documentation); the `source` of each ChannelFacts names where the number comes from.
"""

import math
from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    ALLEGRO = "allegro", "Allegro"
    ZALANDO = "zalando", "Zalando"
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    AMAZON = "amazon", "Amazon"


# Product rule (DESIGN.md §2 rule 2), hard-coded on purpose: it is not a setting. For these
# channels a resync uploads the photo binaries again; every other channel gets photos only when
# the photo set's hash differs from the one in the site journal.
ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT = frozenset({Channel.ALLEGRO, Channel.ZALANDO})


@dataclass(frozen=True)
class Limit:
    """At most `count` units in any `seconds` seconds (a window of a budget)."""

    count: int
    seconds: int


@dataclass(frozen=True)
class BudgetSpec:
    """One budget a channel keeps: what it counts, by whom, over which windows.

    `counted_by` names what the channel counts per: "app" (the application's client id,
    over every seller using it), "seller" (the account behind the token, over all apps),
    "merchant", "shop", "partner" (Amazon: one selling partner with one application in one
    region), or "integration" (our own extra limit, the integration's requests/min).
    Budgets with the same key are shared by every run, process and machine.
    """

    counted_by: str
    limits: tuple[Limit, ...]
    # What one unit is, for the seller: "requests", "edits", "stock updates".
    unit: str
    label: str
    # Whether spends are spread by a steady window a little above the average rate (budgets.
    # windows_of). Off for budgets spent in big batches (a command of 100–1,000 offers): a
    # one-second window would let one batch through a second whatever the minute allows.
    steady: bool = True


# Photos per offer where the catalogue's own count is not at hand (the engine's budget peek, the
# plot's limit line).
TYPICAL_PHOTOS_PER_OFFER = 2.0


@dataclass(frozen=True)
class ChannelFacts:
    # The channel's published request limit for one integration (the requests/min field's
    # upper bound and default where the channel has one).
    requests_per_minute: int
    # Offers handled by one engine chunk: sized so that a chunk takes seconds at the limit.
    chunk_size: int
    # Offers in one request where the channel has a bulk endpoint (1 = one request per offer).
    batch_size: int
    credential_keys: tuple[str, ...]
    source: str
    # The channel's budgets by name; the adapter says which ones each request spends.
    budgets: dict[str, BudgetSpec] = field(default_factory=dict)
    # Units of each budget one offer costs in a resync, by what it sends (ResyncRun.data_types:
    # "all", "prices_stock", "content"): {data types: {budget: units}}, for estimates.
    cost_per_offer: dict[str, dict[str, float]] = field(default_factory=dict)
    # Data types whose offers may go by either of two paths at once: {data types: (the first
    # path's budget, the budgets the second path needs together)} (estimates, the plot).
    parallel_paths: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    # Offers per chunk when the run's offers go in batches (larger groups share a value; an
    # Amazon feed carries a chunk). Which runs go in batches: ChannelAdapter.goes_in_batches.
    batch_chunk_size: int = 0
    # Non-secret settings the channel needs (Integration.channel_settings), each with its
    # default ("" = the seller must fill it in).
    settings: dict[str, str] = field(default_factory=dict)
    # The channel's own hosts, where an integration leaves its URL fields empty.
    default_urls: dict[str, str] = field(default_factory=dict)
    # Units of each budget one photo file costs where each photo is a request of its own
    # (Allegro's image upload), whenever photos are sent (every data type but prices and stock).
    cost_per_photo: dict[str, float] = field(default_factory=dict)
    # What an offer's external ID is on this channel, for the offer page's edit: "number" (a
    # positive whole number: Allegro's offer id, a WooCommerce product id), "text" (Amazon's
    # seller SKU, at most `external_id_length` characters), "" (the channel does not use it).
    external_id_kind: str = "number"
    external_id_length: int = 64

    def offer_cost(
        self, data_types: str, photos_per_offer: float = TYPICAL_PHOTOS_PER_OFFER
    ) -> dict[str, float]:
        """Units of each budget one offer costs in a resync sending `data_types`, its photos
        counted: estimates pass the catalogue's real photos per offer."""
        costs = dict(self.cost_per_offer[data_types])
        if data_types != "prices_stock":
            for name, units in self.cost_per_photo.items():
                costs[name] = costs.get(name, 0) + units * photos_per_offer
        return costs


MINUTE, HOUR, SECOND = 60, 3600, 1


def token_bucket(rate: float, burst: int) -> Limit:
    """Amazon's usage plan (a token bucket: `burst` tokens, refilled at `rate` per second) as
    a window our budgets keep: at most `burst` in any burst/rate seconds (rounded up). Any
    interval of t seconds then holds at most burst + rate·t requests — what the bucket admits
    from full — so pacing by the window never takes a token the bucket does not have."""
    return Limit(burst, math.ceil(burst / rate))


# Allegro's hosts other than the API's, where an integration leaves them empty.
ALLEGRO_AUTH_URL = "https://allegro.pl/auth/oauth/token"
ALLEGRO_UPLOAD_URL = "https://upload.allegro.pl"
# Amazon's Selling Partner API, Europe region, and Login with Amazon (docs/amazon-facts.md).
AMAZON_API_URL = "https://sellingpartnerapi-eu.amazon.com"
AMAZON_AUTH_URL = "https://api.amazon.com/auth/o2/token"
AMAZON_POLAND = "A1C3SOZRARQ6R3"

# Amazon's marketplaces by region, as Amazon publishes them (SP-API "Marketplace IDs",
# developer-docs.amazon.com/sp-api/docs/marketplace-ids; docs/amazon-facts.md): the seller picks
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

CHANNEL_FACTS: dict[str, ChannelFacts] = {
    Channel.ALLEGRO: ChannelFacts(
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
        # command (shopconnect/allegro_commands.py): both paths at once, shared so that they
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
    ),
    Channel.ZALANDO: ChannelFacts(
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
    ),
    Channel.WOOCOMMERCE: ChannelFacts(
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
    ),
    Channel.AMAZON: ChannelFacts(
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
            "amzn/selling-partner-api-models (docs/amazon-facts.md): usage plans per selling "
            "partner and application, token buckets (rate/s, burst) — listingsItems_2021-08-01 "
            "patchListingsItem 5/5, getListingsItem 5/10, searchListingsItems 5/5; sellers v1 "
            "getMarketplaceParticipations 0.016/15; feeds_2021-06-30 createFeedDocument "
            "0.5/15, createFeed 0.0083/15, getFeed 2/15, getFeeds 0.0222/10, getFeedDocument "
            "0.0222/10; "
            "reports_2021-06-30 createReport 0.0167/15, getReport 2/15, getReportDocument "
            "0.0167/15. JSON_LISTINGS_FEED: 5 submissions per 5 minutes per region (SP-API "
            "changelog 2025-05-06), at most 10,000 messages (listings-feed-schema-v2.json "
            "messages.maxItems) and under 10 MiB a document (CHANNELS.md)"
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
            "feed_documents": BudgetSpec(
                "partner",
                (token_bucket(0.5, 15),),
                _("requests"),
                _("Amazon's feed document limit"),
            ),
            "feeds": BudgetSpec(
                "partner",
                (token_bucket(0.0083, 15),),
                _("feeds"),
                _("Amazon's feed submission limit"),
            ),
            "listings_feeds": BudgetSpec(
                "partner",
                (Limit(5, 5 * MINUTE),),
                _("listings feeds"),
                _("Amazon's limit of listings feeds"),
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
            kind: {"listings_patch": 1, "integration": 1}
            for kind in ("all", "content", "prices_stock")
        },
    ),
}

ALL_CREDENTIAL_KEYS: tuple[str, ...] = tuple(
    dict.fromkeys(k for facts in CHANNEL_FACTS.values() for k in facts.credential_keys)
)

CREDENTIAL_LABELS = {
    "client_id": _("Client ID"),
    "client_secret": _("Client secret"),
    "access_token": _("Access token"),
    "refresh_token": _("Refresh token"),
    "merchant_id": _("Merchant ID"),
    "sales_channel_id": _("Sales channel ID"),
    "consumer_key": _("Consumer key"),
    "consumer_secret": _("Consumer secret"),
}

ALL_SETTING_KEYS: tuple[str, ...] = tuple(
    dict.fromkeys(k for facts in CHANNEL_FACTS.values() for k in facts.settings)
)

SETTING_LABELS = {
    "seller_id": _("Seller ID"),
    "marketplace_id": _("Marketplace ID"),
    "language_tag": _("Language tag"),
    "product_type": _("Product type"),
}


def channel_facts(channel: str) -> ChannelFacts:
    return CHANNEL_FACTS[channel]


def sends_photo_binaries_always(channel: str) -> bool:
    return channel in ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT


def limits_for(channel: str, budget: str) -> tuple[Limit, ...]:
    """A budget's windows: the published ones, unless the deployment overrides them.

    Operators override without a release through the CHANNEL_LIMITS setting (environment
    variable, JSON): {"allegro": {"edits": [[2490, 60], [74700, 3600]]}} — each window as
    [count, seconds]. An empty list switches a budget off (benchmarks only).
    """
    from django.conf import settings

    override = (getattr(settings, "CHANNEL_LIMITS", None) or {}).get(channel, {}).get(budget)
    if override is not None:
        return tuple(Limit(int(count), int(seconds)) for count, seconds in override)
    spec = channel_facts(channel).budgets.get(budget)
    return spec.limits if spec else ()
