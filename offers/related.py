"""Offers with their photos and parameters, loaded for hundreds of offers at a time (a resync
chunk, newest wins' comparison): one query per relation whatever the number of offers, and
model instances built straight from the rows (`instances`)."""

import json
from collections import defaultdict

from django.core.exceptions import EmptyResultSet
from django.db.models import Expression, signals
from django.db.models.base import Model, ModelState

from offers.models import LOADED_ROWS, OfferParameter, OfferPhoto


class Ids(Expression):
    """A chunk's ids as the right side of `__in` (`filter(offer_id__in=Ids(offer_ids))`): each
    made an int once here, then one placeholder each (on PostgreSQL, one parameter). `__in`
    with a list prepares, normalizes and resolves every value through the field, one by one:
    ~2 ms for a chunk's 400 ids, in each of the half a dozen statements that name them."""

    kind = int

    def __init__(self, values):
        super().__init__()
        self.values = [self.kind(v) for v in values]

    def as_sql(self, compiler, connection):
        if not self.values:
            raise EmptyResultSet  # as `__in=[]`: nothing matches
        if connection.vendor == "postgresql":
            # One text parameter: psycopg's client-side binding parses a statement of over
            # 50 parameters anew each time, and quotes an array's values one by one.
            return self.postgresql()
        return "(" + ", ".join(["%s"] * len(self.values)) + ")", self.values

    def postgresql(self) -> tuple[str, list]:
        return "(SELECT unnest(string_to_array(%s, ',')::bigint[]))", [
            ",".join(map(str, self.values))
        ]


class Texts(Ids):
    """Ids for text values (an import batch's SKUs): on PostgreSQL one JSON parameter."""

    kind = str

    def postgresql(self) -> tuple[str, list]:
        return "(SELECT jsonb_array_elements_text(%s::jsonb))", [
            json.dumps(self.values, ensure_ascii=False)
        ]


def with_photos_and_parameters(offers: list) -> list:
    """Load every offer's photos and parameters, in order, in two queries: what
    `offer.photo_list()` and `offer.parameter_pairs()` return from then on, without a query.

    Each offer gets plain lists (LOADED_ROWS), not prefetch_related's evaluated queryset per
    offer: building hundreds of querysets a chunk cost more than the queries. Parameters are
    (name, value) pairs, all anyone reads of them: no instance is built."""
    offer_ids = Ids([o.pk for o in offers])
    photos = defaultdict(list)
    for photo in instances(in_order(OfferPhoto.objects.filter(offer_id__in=offer_ids))):
        photos[photo.offer_id].append(photo)
    parameters = defaultdict(list)
    rows = in_order(OfferParameter.objects.filter(offer_id__in=offer_ids))
    for offer_id, name, value in rows.values_list("offer_id", "name", "value"):
        parameters[offer_id].append((name, value))
    for offer in offers:
        pk = offer.pk
        offer.__dict__[LOADED_ROWS] = {
            "photos": photos.get(pk) or [],
            "parameters": parameters.get(pk) or [],
        }
    return offers


def in_order(queryset):
    """An offer's photos or parameters in their order, offer by offer."""
    return queryset.order_by("offer_id", "position", "pk")


def instances(queryset, *, related: str | None = None) -> list:
    """The queryset's rows as model instances, each with every concrete field but those it
    defers (`.defer()`, its own or the related row's: read from the database if ever asked);
    `related`: a forward foreign key loaded in the same query, as select_related does.

    Read as value rows (the fields' database converters applied as for instances) and built
    without Model.__init__, whose per-field work was most of a chunk's loading: what
    `Model.from_db` makes, minus the init signals. A model with init signals or its own
    `from_db` is built the ORM's way.
    """
    model = queryset.model
    target = model._meta.get_field(related).related_model if related else None
    models = [model, target] if target else [model]
    deferred, defer = queryset.query.deferred_loading
    if not all(_buildable(m) for m in models) or (deferred and not defer):  # only(): the ORM's
        rows = queryset.select_related(related) if related else queryset
        return list(rows)
    names = [f.attname for f in model._meta.concrete_fields if f.name not in deferred]
    columns = list(names)
    if target:
        target_names = [
            f.attname
            for f in target._meta.concrete_fields
            if f"{related}__{f.name}" not in deferred
        ]
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
