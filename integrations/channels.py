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


# Product rule (DESIGN.md §2 rule 2), hard-coded on purpose: it is not a setting. For these
# channels a resync uploads the photo binaries again; every other channel gets photos only when
# the photo set's hash differs from the one in the site journal.
ALWAYS_SEND_BINARY_DATA_CONTENT_TO_SHOPCONNECT = frozenset({Channel.ALLEGRO, Channel.ZALANDO})


@dataclass(frozen=True)
class EndpointLimit:
    """A limit a channel puts on one group of its endpoints, on top of the integration's pace."""

    # At most `requests` requests to this endpoint group in any `seconds` seconds.
    requests: int
    seconds: int = 60
    # Items (EANs, offers) per minute across all requests to the group, where the channel
    # counts those too (Zalando: 1,000 stock updates/min however they are batched).
    updates_per_minute: int | None = None


@dataclass(frozen=True)
class ChannelFacts:
    # Pace of all requests of one integration (token bucket), per minute.
    requests_per_minute: int
    # Offer updates per minute the channel accepts at most: the physical bound of a resync.
    offers_per_minute: int
    # Offers handled by one engine chunk: sized so that a chunk takes seconds at the limit.
    chunk_size: int
    # Offers in one request where the channel has a bulk endpoint (1 = one request per offer).
    batch_size: int
    credential_keys: tuple[str, ...]
    # Whether the listing must already exist on the channel under OfferChannel.external_id.
    needs_external_id: bool
    source: str
    # Per-endpoint limits by the adapter's own group names (see integrations/shopconnect/).
    endpoint_limits: dict[str, EndpointLimit] = field(default_factory=dict)


CHANNEL_FACTS: dict[str, ChannelFacts] = {
    Channel.ALLEGRO: ChannelFacts(
        requests_per_minute=9_000,
        offers_per_minute=2_500,
        chunk_size=200,
        batch_size=1,
        credential_keys=("client_id", "client_secret", "access_token", "refresh_token"),
        needs_external_id=True,
        source=(
            "developer.allegro.pl: 9,000 requests/min per Client ID (over it: 429 and a one-minute "
            "block); PATCH /sale/product-offers/{id} 2,500/min per seller since 22 Oct 2024"
        ),
        endpoint_limits={"patch": EndpointLimit(requests=2_500)},
    ),
    Channel.ZALANDO: ChannelFacts(
        requests_per_minute=1_500,
        offers_per_minute=1_000,
        chunk_size=250,
        batch_size=1_000,
        credential_keys=("client_id", "client_secret", "merchant_id", "sales_channel_id"),
        needs_external_id=False,
        source=(
            "zDirect Partner API: product submissions 25 req/s; prices 30 req/min and 8,000 "
            "updates/min; stocks 1 req/s and 1,000 updates/min; batches of up to 1,000 EANs; "
            "token requests 8/min"
        ),
        endpoint_limits={
            "submissions": EndpointLimit(requests=25, seconds=1),
            "prices": EndpointLimit(requests=30, updates_per_minute=8_000),
            "stocks": EndpointLimit(requests=1, seconds=1, updates_per_minute=1_000),
            "token": EndpointLimit(requests=8),
        },
    ),
    Channel.WOOCOMMERCE: ChannelFacts(
        requests_per_minute=60,
        offers_per_minute=6_000,  # 60 batches of 100 at the default pace
        chunk_size=400,  # four batches of 100: all in flight at once (see woocommerce.py)
        batch_size=100,
        credential_keys=("consumer_key", "consumer_secret"),
        needs_external_id=True,
        source=(
            "WooCommerce REST API v3 publishes no rate limit; batch endpoints take at most 100 "
            "objects. We default to a gentle 1 request/s (100 offers/s); set the integration's "
            "limit to match the shop's hosting"
        ),
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


def estimated_offers_per_minute(channel: str, requests_per_minute: int | None = None) -> float:
    """Offers per minute a resync can reach on this channel with the given request budget."""
    facts = channel_facts(channel)
    rpm = requests_per_minute or facts.requests_per_minute
    if channel == Channel.WOOCOMMERCE:
        return rpm * facts.batch_size
    if channel == Channel.ALLEGRO:
        # One PATCH per offer plus photo uploads (about three per offer) share the request budget.
        return min(facts.offers_per_minute, rpm / 4)
    return min(facts.offers_per_minute, rpm)


def estimated_duration_seconds(
    channel: str, offers: int, requests_per_minute: int | None = None
) -> int:
    if offers <= 0:
        return 0
    return math.ceil(offers / estimated_offers_per_minute(channel, requests_per_minute) * 60)
