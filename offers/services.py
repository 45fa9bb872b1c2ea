"""Writes to the catalogue's channel links go through here (HackSoft style: <entity>_<action>)."""

from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

from django.db import transaction

from offers import outbox
from offers.bulk import insert_rows
from offers.models import Offer, OfferChannel, SiteJournal
from offers.related import Ids


@transaction.atomic
def offer_channel_set_active(
    *, offer: Offer, integration, active: bool, external_id: str | None = None
) -> OfferChannel:
    """Activate or deactivate an offer on an integration.

    Deactivation forgets the journal's photo hash (docs/architecture.md, product rule 3), so
    deactivating and
    re-activating forces the next sync to send the photos again on any channel. It does not end
    the listing on the channel.
    """
    link, created = OfferChannel.objects.select_for_update().get_or_create(
        offer=offer,
        integration=integration,
        defaults={"active": active, "external_id": external_id or ""},
    )
    changed = []
    if not created and link.active != active:
        link.active = active
        changed.append("active")
    if external_id is not None and link.external_id != external_id:
        link.external_id = external_id
        changed.append("external_id")
    if changed:
        link.save(update_fields=changed)
    if not active:
        _forget_photos_hashes([(offer.pk, integration.pk)])
    elif created or "active" in changed or "external_id" in changed:
        # Activated, or pointed at another listing: photos and everything else go to it.
        outbox.record_link_changes([(offer.pk, integration.pk)])
    return link


def _forget_photos_hashes(links: Iterable[tuple[int, int]]) -> None:
    """The journal forgets the photo set's hash of these (offer id, integration id) links: the
    next sync sends their photos again (docs/architecture.md, product rule 3). One statement per
    integration."""
    by_integration = defaultdict(list)
    for offer_id, integration_id in links:
        by_integration[integration_id].append(offer_id)
    for integration_id, offer_ids in by_integration.items():
        SiteJournal.objects.filter(integration_id=integration_id, offer_id__in=offer_ids).update(
            photos_hash=""
        )


class LinkChange(NamedTuple):
    """One link to activate or deactivate (ids, so a batch needs no model instances)."""

    offer_id: int
    integration_id: int
    active: bool
    external_id: str | None = None


@transaction.atomic
def offer_channels_set_active(changes: Iterable[LinkChange]) -> None:
    """`offer_channel_set_active` for many links at once, in a constant number of statements:
    the links are read (locked) in one query, the missing ones created in one insert, the
    changed ones updated by what changed, and every deactivation forgets the journal's photo
    hash (docs/architecture.md, product rule 3) — the same rule as one at a time. Changes of the
    same link apply
    in order (the last `active` wins, an `external_id` of None keeps the one before); a link
    deactivated by any of them forgets its photo hash.
    """
    wanted: dict[tuple[int, int], list] = {}  # (offer_id, integration_id) -> [active, ext_id]
    forget: set[tuple[int, int]] = set()
    for change in changes:
        key = (change.offer_id, change.integration_id)
        previous = wanted.get(key)
        external_id = change.external_id
        if external_id is None and previous is not None:
            external_id = previous[1]
        wanted[key] = [change.active, external_id]
        if not change.active:
            forget.add(key)
    if not wanted:
        return
    offer_ids = {offer_id for offer_id, _ in wanted}
    integration_ids = {integration_id for _, integration_id in wanted}
    links = {
        (link.offer_id, link.integration_id): link
        for link in OfferChannel.objects.select_for_update().filter(
            offer_id__in=Ids(offer_ids), integration_id__in=integration_ids
        )
    }
    created, changed = [], defaultdict(list)  # fields changed -> links
    activated = []  # links (re-)activated: everything of theirs goes to the channel
    for key, (active, external_id) in wanted.items():
        link = links.get(key)
        if link is None:
            created.append((*key, active, external_id or ""))
            if active:
                activated.append(key)
            continue
        if active and (not link.active or (external_id or link.external_id) != link.external_id):
            activated.append(key)
        fields = []
        if link.active != active:
            link.active = active
            fields.append("active")
        if external_id is not None and link.external_id != external_id:
            link.external_id = external_id
            fields.append("external_id")
        if fields:
            changed[tuple(fields)].append(link)
    insert_rows(OfferChannel, ["offer_id", "integration_id", "active", "external_id"], created)
    for fields, group in changed.items():
        OfferChannel.objects.bulk_update(group, list(fields))
    _forget_photos_hashes(forget)
    outbox.record_link_changes(activated)


@transaction.atomic
def offer_channel_remove(*, link: OfferChannel) -> None:
    """Remove a link; like a deactivation, the journal forgets the photo hash."""
    _forget_photos_hashes([(link.offer_id, link.integration_id)])
    link.delete()


@transaction.atomic
def offer_channel_set_external_id(*, link: OfferChannel, external_id: str) -> OfferChannel:
    """Point an offer's link at another listing on the channel (a seller mending a listing
    that was ended and listed again, or a mistyped id).

    The journal forgets the photo hash it kept for the old listing, as a re-activation does
    (docs/architecture.md, product rule 3): the new listing may hold none of the photos sent to the
    old one."""
    link = OfferChannel.objects.select_for_update().get(pk=link.pk)
    if link.external_id != external_id:
        link.external_id = external_id
        link.save(update_fields=["external_id"])
        SiteJournal.objects.filter(
            offer_id=link.offer_id, integration_id=link.integration_id
        ).update(photos_hash="")
        if link.active:
            outbox.record_link_changes([(link.offer_id, link.integration_id)])
    return link
