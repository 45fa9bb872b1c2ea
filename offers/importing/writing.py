"""A batch of checked lines written in sets (`write_batch`): a constant number of statements
per batch, in one transaction, touching only what differs."""

from collections import defaultdict
from concurrent.futures import wait
from dataclasses import dataclass

from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone

from offers import outbox
from offers.bulk import insert_rows
from offers.importing.lines import OfferLine, PhotoData
from offers.models import Offer, OfferChannel, OfferParameter, OfferPhoto
from offers.photos import stored_name
from offers.related import Ids, Texts
from offers.services import LinkChange, offer_channels_set_active

OFFER_FIELDS = ("ean", "name", "description", "price", "currency", "stock")


@dataclass
class Existing:
    """What the database holds for one batch of lines, read in four queries."""

    offers: dict  # sku -> Offer
    parameters: dict  # offer_id -> [OfferParameter]
    photos: dict  # offer_id -> [OfferPhoto]
    links: dict  # (offer_id, integration_id) -> OfferChannel

    @classmethod
    def for_lines(cls, lines: list[OfferLine]) -> "Existing":
        skus = Texts(line.sku for line in lines)
        offers = {o.sku: o for o in Offer.objects.filter(sku__in=skus)}
        ids = Ids(o.pk for o in offers.values())
        parameters, photos = defaultdict(list), defaultdict(list)
        for p in OfferParameter.objects.filter(offer_id__in=ids).order_by("position", "pk"):
            parameters[p.offer_id].append(p)
        for p in OfferPhoto.objects.filter(offer_id__in=ids).order_by("position", "pk"):
            photos[p.offer_id].append(p)
        links = {
            (link.offer_id, link.integration_id): link
            for link in OfferChannel.objects.filter(offer_id__in=ids)
        }
        return cls(offers=offers, parameters=parameters, photos=photos, links=links)


def _plan_photos(offer_id: int, photos: list[PhotoData], existing: list[OfferPhoto]):
    """What an offer's photos need to become the line's: (new rows, rows moved, rows dropped).
    A photo already there (same content) keeps its row and file, at the line's position."""
    if [p.sha256 for p in existing] == [p.sha256 for p in photos]:
        return [], [], []
    by_sha = {}
    for old in existing:
        by_sha.setdefault(old.sha256, []).append(old)
    new, moved = [], []
    for position, photo in enumerate(photos):
        reusable = by_sha.get(photo.sha256)
        if reusable:
            old = reusable.pop(0)
            if old.position != position:
                old.position = position
                moved.append(old)
            continue
        new.append((photo, OfferPhoto(offer_id=offer_id, position=position, sha256=photo.sha256,
                                      content_type=photo.content_type)))  # fmt: skip
    return new, moved, [old for leftovers in by_sha.values() for old in leftovers]


def write_batch(
    lines: list[OfferLine], existing: Existing, *, stored: list, pool=None
) -> list[bool]:
    """Write parsed lines (each SKU once) in sets, touching only what differs; returns, per
    line, whether it created the offer. `existing` holds the state before the batch.

    A constant number of statements whatever the number of lines (plus one file written to
    the storage per new photo, by the threads of `pool` when given, its name appended to
    `stored` so a caller whose transaction fails can remove it). The caller runs it in one
    transaction: this is the one place a batch is written, where whatever else a change of the
    catalogue must write can be added. Files of dropped photos are deleted once the
    transaction commits.
    """
    now = timezone.now()
    offer_ids, new_rows, changed = [], [], defaultdict(list)  # changed: fields -> offers
    for line in lines:
        offer = existing.offers.get(line.sku)
        if offer is None:
            new_rows.append((line.sku, *(getattr(line, name) for name in OFFER_FIELDS)))
            offer_ids.append(None)
            continue
        fields = tuple(n for n in OFFER_FIELDS if getattr(offer, n) != getattr(line, n))
        if fields:
            for name in fields:
                setattr(offer, name, getattr(line, name))
            offer.updated_at = now
            changed[fields].append(offer)
        offer_ids.append(offer.pk)
    created_ids = set()
    if new_rows:
        stamp = connection.ops.adapt_datetimefield_value(now)
        ids = dict(
            insert_rows(
                Offer,
                ["sku", *OFFER_FIELDS, "updated_at"],
                [(*row, stamp) for row in new_rows],
                returning=("sku", "id"),
            )
        )
        created_ids = set(ids.values())
        offer_ids = [
            ids[line.sku] if pk is None else pk for line, pk in zip(lines, offer_ids, strict=True)
        ]
    for fields, group in changed.items():
        Offer.objects.bulk_update(group, [*fields, "updated_at"])

    stale, parameters = [], []
    new_photos, moved, dropped = [], [], []
    links = []
    for line, offer_id in zip(lines, offer_ids, strict=True):
        if [(p.name, p.value) for p in existing.parameters.get(offer_id, [])] != line.parameters:
            if offer_id not in created_ids:
                stale.append(offer_id)
            parameters.extend((offer_id, n, v, i) for i, (n, v) in enumerate(line.parameters))
        new, moved_here, dropped_here = _plan_photos(
            offer_id, line.photos, existing.photos.get(offer_id, [])
        )
        new_photos.extend(new)
        moved.extend(moved_here)
        dropped.extend(dropped_here)
        for channel in line.channels:
            link = existing.links.get((offer_id, channel["integration"].pk))
            unchanged = (
                link is not None
                and link.active == channel["active"]
                and channel["external_id"] in (None, link.external_id)
            )
            if not unchanged:
                links.append(
                    LinkChange(
                        offer_id,
                        channel["integration"].pk,
                        channel["active"],
                        channel["external_id"],
                    )
                )
    _store_files(new_photos, stored, pool)
    if stale:
        OfferParameter.objects.filter(offer_id__in=stale).delete()
    insert_rows(OfferParameter, ["offer_id", "name", "value", "position"], parameters)
    insert_rows(
        OfferPhoto,
        ["offer_id", "image", "position", "sha256", "content_type"],
        [(p.offer_id, p.image.name, p.position, p.sha256, p.content_type) for _, p in new_photos],
    )
    OfferPhoto.objects.bulk_update(moved, ["position"])
    if dropped:
        OfferPhoto.objects.filter(pk__in=[p.pk for p in dropped]).delete()
        files = [(p.image.storage, p.image.name) for p in dropped if p.image.name]
        transaction.on_commit(lambda: _delete_files(files))
    # Links are (de)activated by the catalogue's one rule, here for the whole batch at once.
    offer_channels_set_active(links)
    # What changed becomes everyday sync's pending work, in this transaction (offers/outbox.py).
    photo_rows = [row for _, row in new_photos] + moved + dropped
    outbox.record_changes(outbox.batch_changes(changed, stale, {p.offer_id for p in photo_rows}))
    return [offer_id in created_ids for offer_id in offer_ids]


def _store_files(photos: list[tuple[PhotoData, OfferPhoto]], stored: list, pool=None) -> None:
    """Each new photo's file into the storage, under its content's name; by the threads of
    `pool` when given (the storage's writes wait on the disk, not on Python). Each stored file
    is appended to `stored`, even when another one fails."""

    def store(photo: PhotoData, row: OfferPhoto) -> None:
        with photo.path.open("rb") as fh:
            row.image.save(stored_name(photo.sha256, photo.content_type), File(fh), save=False)
        stored.append((row.image.storage, row.image.name))

    if pool is None or len(photos) < 2:
        for photo, row in photos:
            store(photo, row)
        return
    futures = [pool.submit(store, photo, row) for photo, row in photos]
    wait(futures)
    for future in futures:
        future.result()  # the first failure, once every write has ended


def _delete_files(files) -> None:
    for storage, name in files:
        storage.delete(name)


def write_batch_atomically(lines: list[OfferLine], existing: Existing, pool=None) -> list[bool]:
    """`write_batch` in one transaction; on failure the photo files it stored are removed."""
    stored = []
    try:
        with transaction.atomic():
            return write_batch(lines, existing, stored=stored, pool=pool)
    except BaseException:
        _delete_files(stored)
        raise
