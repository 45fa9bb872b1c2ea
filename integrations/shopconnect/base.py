"""What every channel adapter takes and returns (the engine depends only on this).

An adapter gets a batch of offers — each with its photos and parameters prefetched, its channel
link and the photo decision already made by the engine — sends them the channel's way, and
returns one OfferResult per offer, in any order.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass

from offers.models import Offer, OfferChannel


@dataclass
class OfferToSend:
    offer: Offer  # `offer.photos.all()` and `offer.parameters.all()` are prefetched
    link: OfferChannel
    send_photos: bool


@dataclass
class OfferResult:
    offer_id: int
    ok: bool
    photos_sent: bool = False
    http_status: int | None = None
    code: str = ""
    # The channel's own message for a failure (never containing credentials), or a warning.
    message: str = ""
    attempts: int = 1


class ChannelAuthError(Exception):
    """The channel refuses our credentials even after a token refresh: the run cannot go on.

    The message is for the seller ("Allegro refused the access token; reconnect the account").
    """


class ChannelAdapter(ABC):
    def __init__(self, integration):
        self.integration = integration

    @abstractmethod
    def send(self, items: list[OfferToSend]) -> list[OfferResult]:
        """Send a batch (an engine chunk, up to a few hundred offers); never raises per offer."""
