"""Newest wins against a resync (docs/architecture.md, "Everyday sync").

A resync reads a chunk of offers, sends them, then records the chunk in one transaction. A
change committed after the read may already have reached the channel through everyday sync —
and the resync's older value then landed over it. So `record` calls `requeue_raced` in its
transaction: every data group whose value now differs from what the run read (and sent) is
pending again, at a new version, and a claim in flight for it cannot confirm (its generation
moves). The dispatcher then sends the newest value after the resync's. A crash before the
record commits loses nothing: the chunk is sent again from a fresh read.
"""

from decimal import Decimal

from django.db.models import F

from offers import outbox
from offers.models import DataGroup, Offer, PendingChange
from offers.related import Ids, with_photos_and_parameters

# The data groups a run sends, by its data types (ResyncRun.DataTypes' values).
RUN_GROUPS = {
    "all": (DataGroup.STOCK, DataGroup.PRICE, DataGroup.CONTENT, DataGroup.PHOTOS),
    "prices_stock": (DataGroup.STOCK, DataGroup.PRICE),
    "content": (DataGroup.CONTENT, DataGroup.PHOTOS),
}


def group_values(offer: Offer) -> dict[str, object]:
    """What each data group of `offer` holds (photos and parameters prefetched or read)."""
    return {
        DataGroup.STOCK: max(int(offer.stock), 0),
        DataGroup.PRICE: (offer.price, offer.currency),
        DataGroup.CONTENT: (
            offer.name,
            offer.description,
            offer.ean,
            offer.parameter_pairs(),
        ),
        DataGroup.PHOTOS: offer.photos_hash(),
    }


def batch_values(values: dict, current: Offer) -> dict[str, object]:
    """The groups an asynchronous batch set (`OfferResult.sent`: {"stock"} or {"price",
    "currency"}, as JSON may carry them), in group_values' terms."""
    out = {}
    if "stock" in values:
        out[DataGroup.STOCK] = max(int(values["stock"]), 0)
    if "price" in values:
        out[DataGroup.PRICE] = (
            Decimal(str(values["price"])),
            values.get("currency") or current.currency,
        )
    return out


def requeue_raced(
    integration_id: int,
    sent: list[Offer],
    data_types: str,
    batches: dict | None = None,
    *,
    changed_after: int | None = None,
) -> int:
    """Re-queue the groups of the offers a run sent (as it read them) that changed since: in
    the caller's transaction. `batches`: {offer id: the values an asynchronous batch set}
    (OfferResult.sent), compared instead of the offer as read. `changed_after`: the outbox's
    version committed before the offers were read; only offers with a change of a higher
    version (every change is one, written with it) can differ, so the others are not read
    again. Returns the rows re-queued. A constant number of queries."""
    if sent and changed_after is not None:
        if outbox.current_version() <= changed_after:
            return 0  # nothing committed since the read: every change takes the next version
        changed = set(
            PendingChange.objects.filter(
                integration_id=integration_id,
                offer_id__in=Ids([o.pk for o in sent]),
                version__gt=changed_after,
            ).values_list("offer_id", flat=True)
        )
        sent = [o for o in sent if o.pk in changed]
    if not sent:
        return 0
    batches = batches or {}
    groups = RUN_GROUPS.get(data_types, RUN_GROUPS["all"])
    now = {
        o.pk: o
        for o in with_photos_and_parameters(list(Offer.objects.filter(pk__in=[o.pk for o in sent])))
    }
    raced = []
    for offer in sent:
        current = now.get(offer.pk)
        if current is None:
            continue
        newest = group_values(current)
        if offer.pk in batches:
            planned = batches[offer.pk]
            read = batch_values(planned, current)
            raced += [
                (offer.pk, integration_id, g) for g in read if g in groups and read[g] != newest[g]
            ]
            # Content and photos a batch carried (an Amazon feed's messages): by their hashes.
            hashes = {
                DataGroup.CONTENT: ("content_hash", current.content_hash),
                DataGroup.PHOTOS: ("photos_hash", current.photos_hash),
            }
            raced += [
                (offer.pk, integration_id, g)
                for g, (key, now_hash) in hashes.items()
                if g in groups and key in planned and planned[key] != now_hash()
            ]
            continue
        read = group_values(offer)
        raced += [(offer.pk, integration_id, g) for g in groups if read[g] != newest[g]]
    if not raced:
        return 0
    outbox.write_pending(raced)
    # A dispatcher's claim in flight for these rows must not confirm its (maybe older) send.
    by_group: dict[str, list[int]] = {}
    for offer_id, _integration, group in raced:
        by_group.setdefault(group, []).append(offer_id)
    for group, offer_ids in by_group.items():
        PendingChange.objects.filter(
            integration_id=integration_id, group=group, offer_id__in=offer_ids
        ).update(generation=F("generation") + 1)
    return len(raced)
