"""Offers with their photos and parameters, loaded for hundreds of offers at a time (a resync
chunk, newest wins' comparison): one query per relation whatever the number of offers, and
model instances built straight from the rows (`instances`)."""

from collections import defaultdict

from django.core.exceptions import EmptyResultSet
from django.db.models import Expression, QuerySet, signals
from django.db.models.base import Model, ModelState

from offers.models import OfferParameter, OfferPhoto


class Ids(Expression):
    """A chunk's ids as the right side of `__in` (`filter(offer_id__in=Ids(offer_ids))`): each
    made an int once here, then one placeholder each (on PostgreSQL, one array). `__in` with
    a list prepares, normalizes and resolves every value through the field, one by one: ~2 ms
    for a chunk's 400 ids, in each of the half a dozen statements that name them."""

    def __init__(self, ids):
        super().__init__()
        self.ids = [int(i) for i in ids]

    def as_sql(self, compiler, connection):
        if not self.ids:
            raise EmptyResultSet  # as `__in=[]`: nothing matches
        if connection.vendor == "postgresql":
            # One array parameter: psycopg's client-side binding parses a statement of over
            # 50 parameters anew each time and quotes every value on its own.
            return "(SELECT unnest(%s::bigint[]))", [self.ids]
        return "(" + ", ".join(["%s"] * len(self.ids)) + ")", self.ids


def with_photos_and_parameters(offers: list) -> list:
    """Fill `offer.photos.all()` and `offer.parameters.all()` of every offer: two queries."""
    offer_ids = Ids([o.pk for o in offers])
    attach_related(offers, "photos", OfferPhoto.objects.filter(offer_id__in=offer_ids))
    attach_related(offers, "parameters", OfferParameter.objects.filter(offer_id__in=offer_ids))
    return offers


def attach_related(offers, name: str, queryset) -> None:
    """Fill `offer.<name>.all()` from one query, as prefetch_related does.

    prefetch_related_objects clones a queryset per offer; at hundreds of offers per chunk that
    cloning cost more than the query itself, so the rows are grouped here and handed to each
    offer as an already evaluated queryset. Those querysets share one unfiltered query object
    (building a query per offer cost as much again): they are for reading (`all()`,
    `count()`, iterating); filtered further, unlike prefetch_related's, they would query the
    whole table (as a query of their own per offer did before).
    """
    grouped = defaultdict(list)
    for row in instances(queryset.order_by("offer_id", "position", "pk")):
        grouped[row.offer_id].append(row)
    model = queryset.model
    query = QuerySet(model=model).query
    for offer in offers:
        evaluated = QuerySet(model=model, query=query)
        evaluated._result_cache = grouped.get(offer.pk, [])
        evaluated._prefetch_done = True
        offer._prefetched_objects_cache = {
            **getattr(offer, "_prefetched_objects_cache", {}),
            name: evaluated,
        }


def instances(queryset, *, related: str | None = None) -> list:
    """The queryset's rows as model instances, each with every concrete field; `related`: a
    forward foreign key loaded in the same query, as select_related does.

    Read as value rows (the fields' database converters applied as for instances) and built
    without Model.__init__, whose per-field work was most of a chunk's loading: what
    `Model.from_db` makes, minus the init signals. A model with init signals or its own
    `from_db` is built the ORM's way.
    """
    model = queryset.model
    target = model._meta.get_field(related).related_model if related else None
    models = [model, target] if target else [model]
    if not all(_buildable(m) for m in models):
        rows = queryset.select_related(related) if related else queryset
        return list(rows)
    names = [f.attname for f in model._meta.concrete_fields]
    columns = list(names)
    if target:
        target_names = [f.attname for f in target._meta.concrete_fields]
        columns += [f"{related}__{name}" for name in target_names]
        cache_name = model._meta.get_field(related).cache_name
        target_pk = target_names.index(target._meta.pk.attname)
    db = queryset.db
    split = len(names)
    out = []
    for row in queryset.values_list(*columns):
        obj = _built(model, names, row[:split], db)
        if target:
            values = row[split:]
            # A null foreign key: no related row (select_related caches None too).
            found = values[target_pk] is not None
            obj._state.fields_cache[cache_name] = (
                _built(target, target_names, values, db) if found else None
            )
        out.append(obj)
    return out


def _buildable(model) -> bool:
    return (
        model.from_db.__func__ is Model.from_db.__func__
        and not signals.pre_init.has_listeners(model)
        and not signals.post_init.has_listeners(model)
    )


def _built(model, names: list[str], values, db: str):
    obj = model.__new__(model)
    obj.__dict__.update(zip(names, values, strict=True))
    state = obj._state = ModelState()
    state.adding = False
    state.db = db
    return obj
