"""Writes to the catalogue's channel links go through here (HackSoft style: <entity>_<action>)."""

from django.db import transaction

from offers.models import Offer, OfferChannel, SiteJournal


@transaction.atomic
def offer_channel_set_active(
    *, offer: Offer, integration, active: bool, external_id: str | None = None
) -> OfferChannel:
    """Activate or deactivate an offer on an integration.

    Deactivation forgets the journal's photo hash (DESIGN.md §2 rule 3), so deactivating and
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
        SiteJournal.objects.filter(offer=offer, integration=integration).update(photos_hash="")
    return link


@transaction.atomic
def offer_channel_remove(*, link: OfferChannel) -> None:
    """Remove a link; like a deactivation, the journal forgets the photo hash."""
    SiteJournal.objects.filter(offer_id=link.offer_id, integration_id=link.integration_id).update(
        photos_hash=""
    )
    link.delete()


@transaction.atomic
def offer_channel_set_external_id(*, link: OfferChannel, external_id: str) -> OfferChannel:
    """Point an offer's link at another listing on the channel (a seller mending a listing
    that was ended and listed again, or a mistyped id).

    The journal forgets the photo hash it kept for the old listing, as a re-activation does
    (DESIGN.md §2 rule 3): the new listing may hold none of the photos sent to the old one."""
    link = OfferChannel.objects.select_for_update().get(pk=link.pk)
    if link.external_id != external_id:
        link.external_id = external_id
        link.save(update_fields=["external_id"])
        SiteJournal.objects.filter(
            offer_id=link.offer_id, integration_id=link.integration_id
        ).update(photos_hash="")
    return link
