"""Offers with their photos and parameters, loaded for hundreds of offers at a time (a resync
chunk, newest wins' comparison): one query per relation whatever the number of offers."""

from collections import defaultdict

from django.db.models import QuerySet

from offers.models import OfferParameter, OfferPhoto


def with_photos_and_parameters(offers: list) -> list:
    """Fill `offer.photos.all()` and `offer.parameters.all()` of every offer: two queries."""
    offer_ids = [o.pk for o in offers]
    attach_related(offers, "photos", OfferPhoto.objects.filter(offer_id__in=offer_ids))
    attach_related(offers, "parameters", OfferParameter.objects.filter(offer_id__in=offer_ids))
    return offers


def attach_related(offers, name: str, queryset) -> None:
    """Fill `offer.<name>.all()` from one query, as prefetch_related does.

    prefetch_related_objects clones a queryset per offer; at hundreds of offers per chunk that
    cloning cost more than the query itself, so the rows are grouped here and handed to each
    offer as an already evaluated queryset.
    """
    grouped = defaultdict(list)
    for row in queryset.order_by("offer_id", "position", "pk"):
        grouped[row.offer_id].append(row)
    model = queryset.model
    for offer in offers:
        evaluated = QuerySet(model=model)
        evaluated._result_cache = grouped.get(offer.pk, [])
        evaluated._prefetch_done = True
        offer._prefetched_objects_cache = {
            **getattr(offer, "_prefetched_objects_cache", {}),
            name: evaluated,
        }
