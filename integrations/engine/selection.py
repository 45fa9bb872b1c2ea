"""What a run visits, read by keyset in chunks with everything an offer needs to be sent or
compared: shared by the resync chunk and the drift check's comparison."""

from dataclasses import dataclass, field

from integrations.models import DriftItem, Integration, ResyncFailure, ResyncRun
from offers import outbox
from offers.models import OfferChannel, OfferPhoto, SiteJournal
from offers.related import Ids, instances, with_photos_and_parameters


def active_links(integration: Integration):
    """The links a resync sends: the integration's active offers."""
    return OfferChannel.objects.filter(integration=integration, active=True)


def run_links(run: ResyncRun):
    """What a run visits: the integration's active offers up to the run's last offer (offers
    added during the run go with the next one), limited to a retry's failures."""
    links = active_links(run.integration)
    if run.last_offer_id is not None:
        links = links.filter(offer_id__lte=run.last_offer_id)
    if run.retry_of_id:
        failed = ResyncFailure.objects.filter(run_id=run.retry_of_id)
        if run.retry_filter:
            failed = failed.in_group(run.retry_filter)
        links = links.filter(offer_id__in=failed.values("offer_id"))
    if run.differing_of_id:
        # Only what differs: an edit cannot bring back a listing missing on the channel; and
        # not what an earlier fix of the same check already sent.
        differing = DriftItem.objects.still_differing(run.differing_of, before=run.created_at)
        links = links.filter(offer_id__in=differing.values("offer_id"))
    return links


def resync_offer_count(integration: Integration) -> int:
    return active_links(integration).count()


def photos_per_offer(integration: Integration) -> float:
    """The integration's active offers' photos, on average (0.0 without offers)."""
    links = active_links(integration)
    offers = links.count()
    if not offers:
        return 0.0
    return OfferPhoto.objects.filter(offer_id__in=links.values("offer_id")).count() / offers


@dataclass
class Chunk:
    links: list  # OfferChannel with .offer, photos and parameters prefetched
    # offer_id -> the photo set hash the site journal holds (what the channel has)
    journal_photos: dict
    # The outbox's version committed before the chunk was read (newest.requeue_raced compares
    # only offers changed after it); None: unknown, every offer is compared.
    version: int | None = None
    # offer_id -> its photo set hash, computed once for the chunk (photos_hash)
    photo_hashes: dict = field(default_factory=dict)

    def photos_hash(self, offer) -> str:
        """The chunk's offer's photo set hash: computed once, whoever asks first (what to
        send, then what to journal)."""
        known = self.photo_hashes.get(offer.pk)
        if known is None:
            known = self.photo_hashes[offer.pk] = offer.photos_hash()
        return known


def load_chunk(run: ResyncRun, after: int, size: int) -> Chunk:
    """The next chunk in offer pk order after the cursor: keyset, never OFFSET."""
    version = outbox.current_version()  # before the read: a change after it has a higher one
    chunk = _loaded(run, run_links(run).filter(offer_id__gt=after), size)
    chunk.version = version
    return chunk


def load_offers(run: ResyncRun, offer_ids, *, journal_photos: dict, related=True) -> Chunk:
    """The integration's links of these offers (active or not: recording skips those gone),
    with the journal's photo hashes as an earlier chunk read them (a group of batches);
    `related=False`: without photos and parameters (read lazily if asked)."""
    links = OfferChannel.objects.filter(integration_id=run.integration_id, offer_id__in=offer_ids)
    return Chunk(links=_loaded(run, links, related=related).links, journal_photos=journal_photos)


def _loaded(run: ResyncRun, links, size: int | None = None, *, related=True) -> Chunk:
    """The one offer loader: links in offer pk order with their offers, photos, parameters and
    the journal's photo hashes — four queries whatever the chunk size."""
    # The offer's updated_at is left out: nothing a chunk does reads it, and its conversion
    # cost as much as any other field's.
    links = links.order_by("offer_id").defer("offer__updated_at")
    links = instances(links[:size] if size is not None else links, related="offer")
    offers = [link.offer for link in links]
    offer_ids = [o.pk for o in offers]
    if related:
        with_photos_and_parameters(offers)
    journal_photos = dict(
        SiteJournal.objects.filter(
            integration_id=run.integration_id, offer_id__in=Ids(offer_ids)
        ).values_list("offer_id", "photos_hash")
    )
    return Chunk(links=links, journal_photos=journal_photos)
