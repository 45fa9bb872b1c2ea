"""What the offer page shows: the offer, its photos and parameters, its channels with what the
site journal holds for each, and its recent failures (read-only)."""

from dataclasses import dataclass

from integrations.models import ResyncFailure
from offers.models import Offer, OfferChannel, SiteJournal

RECENT_FAILURES = 20


@dataclass
class ChannelRow:
    link: OfferChannel
    journal: SiteJournal | None


def offer_channels(offer: Offer) -> list[ChannelRow]:
    """The offer's channels, each with its site-journal row (what was last sent there)."""
    links = list(
        OfferChannel.objects.filter(offer=offer)
        .select_related("integration")
        .order_by("integration__name")
    )
    journal = {j.integration_id: j for j in SiteJournal.objects.filter(offer=offer)}
    return [ChannelRow(link, journal.get(link.integration_id)) for link in links]


def recent_failures(offer: Offer, limit: int = RECENT_FAILURES) -> list[ResyncFailure]:
    """The offer's failures in resyncs and checks, newest run first."""
    return list(
        ResyncFailure.objects.filter(offer=offer)
        .select_related("run", "run__integration")
        .order_by("-run_id")[:limit]
    )
