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
    # What to send (ResyncRun.data_types): content = name, description, parameters (and
    # photos as decided); prices_stock = prices and stock.
    send_content: bool = True
    send_prices_stock: bool = True


@dataclass
class OfferResult:
    offer_id: int
    ok: bool
    photos_sent: bool = False
    # Photo files sent (uploaded, or handed to the channel as URLs).
    photo_files: int = 0
    # Not sent in this chunk (a budget or the channel made us wait): neither done nor failed.
    deferred: bool = False
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
    """Every hook the engine calls (integrations/resync.py)."""

    def __init__(self, integration):
        self.integration = integration

    def prepare(self) -> None:  # noqa: B027 - most channels need nothing
        """Once per task, before any chunk: learn what the budgets need (Allegro: the seller).

        Raises ChannelAuthError when the channel refuses our credentials.
        """

    @abstractmethod
    def send(self, items: list[OfferToSend], *, deadline: float | None = None) -> list[OfferResult]:
        """Send a batch (an engine chunk, up to a few hundred offers); never raises per offer.

        `deadline` (time.monotonic()) bounds every wait and retry. Offers that could not go
        because a budget or the channel made us wait come back `deferred`; `held` then says
        until when and why.
        """

    def stop(self) -> None:  # noqa: B027 - an adapter with nothing in flight has nothing to stop
        """The run is being cancelled: send nothing more (called from another thread)."""

    @property
    def held(self):
        """The integrations.shopconnect.http.Held that deferred offers of the last send."""
        return None

    def budgets(self) -> dict:
        """The budgets this integration spends, by name (integrations/shopconnect/budgets.py)."""
        return {}

    def offer_spends(self, offers: int, data_types: str = "all") -> list[tuple]:
        """What `offers` offers cost of each budget in a resync: [(Budget, units)]."""
        costs = self.integration.facts.cost_per_offer[data_types]
        return [
            (budget, max(1, round(offers * costs[name])))
            for name, budget in self.budgets().items()
            if name in costs and budget.limits
        ]
