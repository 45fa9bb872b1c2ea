"""The sales channels xSale talks to, and the facts about each that the engine paces by.

Sources for every limit are in ../shared/reference/CHANNELS.md (taken from the channels'
published documentation); the `source` of each ChannelFacts names where the number comes from.
"""

from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    ALLEGRO = "allegro", "Allegro"
    ZALANDO = "zalando", "Zalando"
    WOOCOMMERCE = "woocommerce", "WooCommerce"


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
    "merchant", "shop", or "integration" (our own extra limit, the integration's
    requests/min). Budgets with the same key are shared by every run, process and machine.
    """

    counted_by: str
    limits: tuple[Limit, ...]
    # What one unit is, for the seller: "requests", "edits", "stock updates".
    unit: str
    label: str


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
    # Whether the listing must already exist on the channel under OfferChannel.external_id.
    needs_external_id: bool
    source: str
    # The channel's budgets by name; the adapter says which ones each request spends.
    budgets: dict[str, BudgetSpec] = field(default_factory=dict)
    # Units of each budget one offer costs in a resync, by what it sends (ResyncRun.data_types:
    # "all", "prices_stock", "content"): {data types: {budget: units}}, for estimates.
    cost_per_offer: dict[str, dict[str, float]] = field(default_factory=dict)
    # Data types whose offers may go by either of two paths at once: {data types: (the first
    # path's budget, the budgets the second path needs together)} (estimates, the plot).
    parallel_paths: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    # Offers per chunk when the run's offers go in batches (larger groups share a value).
    batch_chunk_size: int = 0
    # Units of each budget one photo file costs where each photo is a request of its own
    # (Allegro's image upload), whenever photos are sent (every data type but prices and stock).
    cost_per_photo: dict[str, float] = field(default_factory=dict)

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

# Allegro's hosts other than the API's, where an integration leaves them empty.
ALLEGRO_AUTH_URL = "https://allegro.pl/auth/oauth/token"
ALLEGRO_UPLOAD_URL = "https://upload.allegro.pl"

CHANNEL_FACTS: dict[str, ChannelFacts] = {
    Channel.ALLEGRO: ChannelFacts(
        requests_per_minute=9_000,
        chunk_size=200,
        batch_chunk_size=2_000,
        batch_size=1,
        credential_keys=("client_id", "client_secret", "access_token", "refresh_token"),
        needs_external_id=True,
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
            ),
            "quantity_commands": BudgetSpec(
                "seller",
                (Limit(9_000, MINUTE), Limit(250_000, HOUR)),
                _("stock changes"),
                _("Allegro's limit of stock changes by command per seller"),
            ),
            "command_reads": BudgetSpec(
                "seller",
                (Limit(270_000, MINUTE),),
                _("offer changes read"),
                _("Allegro's limit of command report reads per seller"),
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
        needs_external_id=False,
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
        needs_external_id=True,
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
