"""What a channel package declares: its facts and limits, and the descriptor the core reads.

Light on purpose: nothing of xSale is imported here, so that the lowest layer can read every
channel's descriptor (integrations/saleschannels/__init__.py).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


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


@dataclass(frozen=True)
class SettingChoice:
    """A channel setting chosen from a list rather than typed (Amazon's marketplace): grouped
    choices [(group, ((value, label), …)), …], the field's label and help text."""

    groups: tuple
    label: str
    help_text: str
    # Shown beside a saved value the list does not have ("%(id)s" is the value).
    unknown_label: str = ""
    # The error when a new value is not in the list.
    invalid_message: str = ""

    def values(self) -> frozenset[str]:
        return frozenset(value for _group, choices in self.groups for value, _label in choices)


@dataclass(frozen=True)
class ChannelDescriptor:
    """Everything the core knows of one channel; registry.py lists one per channel."""

    # Integration.channel's value (kept as it is: outside scripts read it) and its label.
    value: str
    label: str
    facts: ChannelFacts
    # The package's ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT: a constant in its code,
    # never a setting (product rule 2, docs/architecture.md).
    always_send_binary_data_content: bool
    # The adapter class, by dotted path (imported on first use: it needs the transport).
    adapter: str
    # Labels of the credential and setting keys the channel uses (facts.credential_keys,
    # facts.settings); one key may be shared by several channels, with one label.
    credential_labels: dict[str, str] = field(default_factory=dict)
    setting_labels: dict[str, str] = field(default_factory=dict)
    # Settings picked from a list: {setting key: SettingChoice}.
    setting_choices: dict[str, SettingChoice] = field(default_factory=dict)
    # The integration's optional URL fields the channel uses besides api_url.
    url_fields: tuple[str, ...] = ()
    # Budget key rules: the URLs (besides api_url) whose hosts the channel counts by (an
    # integration's own value or the channel's host), and whether requests are counted per
    # shop (the shop's own limit, shared by every integration of one shop) rather than per
    # integration.
    budget_urls: Callable[[object], tuple[str, ...]] | None = None
    requests_counted_per_shop: bool = False
    # The channel downloads the offers' photos from xSale's public address (must be https).
    fetches_photos_from_site: bool = False
    # Demo data: the sandbox's credentials and settings, the sandbox's paths of the optional
    # URL fields (under the account's base URL), and a showcase step (dotted path of
    # f(sandbox_base_url, demo) -> list of lines done; `demo` is services/demo.py's
    # DemoIntegration, the step's only way to the database), or "".
    demo_credentials: dict[str, str] = field(default_factory=dict)
    demo_settings: dict[str, str] = field(default_factory=dict)
    sandbox_url_paths: dict[str, str] = field(default_factory=dict)
    demo_showcase: str = ""
    # The drift report: the listing's page on the channel for the seller to open, or "".
    listing_url: Callable[[object, str, dict], str] | None = None
    # Everyday sync: f(adapter, groups, items, deadline) -> [OfferResult] sending only the
    # changed data groups the channel's best way, by dotted path
    # (saleschannels/<channel>/changes.py), or "": ChannelAdapter.send_changes' default.
    changes: str = ""
    # The drift report: what the seller should know of what this channel's check compared,
    # f(the report's summary dict) -> notes (lazy translations).
    drift_report_notes: Callable[[dict], tuple] | None = None


def web_url(value) -> str:
    """`value` when it is an absolute http(s) URL with a host, else "" (a channel's answer is
    untrusted: no javascript: or data: link from it)."""
    if not isinstance(value, str):
        return ""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return ""
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else ""
