"""The chunk loader's instances (offers/related.py): built from value rows, they are what the
ORM's own instances are — every field, the foreign key loaded with them, photos and parameters
in order — and they save as loaded rows do."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.models import Integration, ResyncRun
from offers.models import Offer, OfferChannel, OfferParameter
from offers.related import Ids, Texts, instances, with_photos_and_parameters
from tests.catalogue import make_offers

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration():
    return Integration.objects.create(
        name="shop",
        channel="woocommerce",
        credentials={"consumer_key": "ck", "consumer_secret": "cs"},
        api_url="https://shop.example.com",
    )


def fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_instances_are_the_orms_with_their_foreign_key(integration):
    make_offers(integration, 5, photos=2)
    links = OfferChannel.objects.filter(integration=integration).order_by("offer_id")
    expected = list(links.select_related("offer"))

    with CaptureQueriesContext(connection) as queries:
        built = instances(links, related="offer")
        offers = [link.offer for link in built]
    assert len(queries) == 1
    assert [fields(b) for b in built] == [fields(e) for e in expected]
    assert [fields(o) for o in offers] == [fields(e.offer) for e in expected]
    assert all(type(o) is Offer for o in offers)
    assert all(not o._state.adding and o._state.db == "default" for o in [*built, *offers])


def test_a_built_instance_saves_as_an_update(integration):
    make_offers(integration, 2)
    link = instances(OfferChannel.objects.filter(integration=integration), related="offer")[0]
    link.offer.stock = 77
    link.offer.save()
    link.external_id = "4242"
    link.save()
    assert Offer.objects.count() == 2 and OfferChannel.objects.count() == 2
    assert Offer.objects.get(pk=link.offer_id).stock == 77
    assert OfferChannel.objects.get(pk=link.pk).external_id == "4242"


def test_photos_and_parameters_in_order_without_a_query_each(integration):
    offers = make_offers(integration, 3, photos=2)
    OfferParameter.objects.create(offer=offers[0], name="Kolor", value="czerwony", position=9)
    OfferParameter.objects.create(offer=offers[0], name="Rozmiar", value="M", position=8)
    loaded = list(Offer.objects.filter(pk__in=[o.pk for o in offers]).order_by("pk"))

    with CaptureQueriesContext(connection) as queries:
        with_photos_and_parameters(loaded)
        photos = [[(p.pk, p.image.name, p.sha256) for p in o.photo_list()] for o in loaded]
        parameters = [o.parameter_pairs() for o in loaded]
        counts = [len(o.photo_list()) for o in loaded]
        hashes = [o.photos_hash() for o in loaded]
    assert len(queries) == 2
    fresh = [Offer.objects.get(pk=o.pk) for o in loaded]
    assert photos == [
        [(p.pk, p.image.name, p.sha256) for p in o.photos.order_by("position", "pk")] for o in fresh
    ]
    assert parameters == [
        [(p.name, p.value) for p in o.parameters.order_by("position", "pk")] for o in fresh
    ]
    assert parameters[0][-2:] == [("Rozmiar", "M"), ("Kolor", "czerwony")]
    assert counts == [2, 2, 2]
    assert hashes == [o.photos_hash() for o in fresh]


def test_a_null_foreign_key_loads_as_none(integration):
    first = ResyncRun.objects.create(integration=integration, status=ResyncRun.Status.COMPLETED)
    retry = ResyncRun.objects.create(integration=integration, retry_of=first)
    runs = instances(ResyncRun.objects.order_by("pk"), related="retry_of")
    with CaptureQueriesContext(connection) as queries:
        assert runs[0].retry_of is None
        assert runs[1].retry_of.pk == first.pk
    assert len(queries) == 0
    assert runs[1].pk == retry.pk


def test_a_model_with_its_own_from_db_is_built_the_orms_way(integration):
    # Integration.from_db remembers the URLs it was loaded with (to tell what changed).
    loaded = instances(Integration.objects.filter(pk=integration.pk))[0]
    assert loaded.changed_urls() == []
    loaded.api_url = "https://other.example.com"
    assert loaded.changed_urls() == ["api_url"]


def test_ids_select_what_a_list_selects(integration):
    offers = make_offers(integration, 6)
    some = [offers[1].pk, offers[4].pk, offers[5].pk + 1000]
    links = OfferChannel.objects.filter(integration=integration)
    as_list = links.filter(offer_id__in=some)
    assert list(links.filter(offer_id__in=Ids(some))) == list(as_list)
    sql, params = links.filter(offer_id__in=Ids(some)).query.sql_with_params()
    if connection.vendor == "postgresql":  # one text parameter, made an array
        assert params[-1:] == (",".join(map(str, some)),) and "unnest" in sql
    else:  # the list's own SQL
        assert (sql, params) == as_list.query.sql_with_params()
    assert list(links.filter(offer_id__in=Ids([]))) == []
    assert links.exclude(offer_id__in=Ids([])).count() == 6


def test_texts_select_what_a_list_selects(integration):
    offers = make_offers(integration, 4)
    Offer.objects.filter(pk=offers[0].pk).update(sku='ZAŻÓŁĆ "cudzysłów" \\ 🙂')
    skus = ['ZAŻÓŁĆ "cudzysłów" \\ 🙂', offers[2].sku, "NIE-MA-TAKIEGO"]
    chosen = Offer.objects.filter(sku__in=Texts(skus)).order_by("pk")
    assert list(chosen) == list(Offer.objects.filter(sku__in=skus).order_by("pk"))
    assert [o.pk for o in chosen] == [offers[0].pk, offers[2].pk]
    sql, params = Offer.objects.filter(sku__in=Texts(skus)).query.sql_with_params()
    if connection.vendor == "postgresql":  # one JSON parameter
        assert len(params) == 1 and "jsonb_array_elements_text" in sql
    assert list(Offer.objects.filter(sku__in=Texts([]))) == []


def test_photo_and_parameter_lists_read_the_loaded_rows_or_the_database(integration):
    offers = make_offers(integration, 2, photos=2)
    OfferParameter.objects.create(offer=offers[0], name="Kolor", value="czerwony", position=2)
    OfferParameter.objects.create(offer=offers[0], name="Rozmiar", value="M", position=1)
    loaded = list(Offer.objects.filter(pk__in=[o.pk for o in offers]).order_by("pk"))
    with_photos_and_parameters(loaded)

    with CaptureQueriesContext(connection) as queries:
        lists = [(o.photo_list(), o.parameter_pairs()) for o in loaded]
        hashes = [(o.photos_hash(), o.content_hash()) for o in loaded]
    assert len(queries) == 0
    assert [
        (list(o.photos.all()), [(p.name, p.value) for p in o.parameters.all()]) for o in loaded
    ] == lists
    # An offer without photos or parameters gets lists of its own (not one shared list).
    bare = Offer.objects.create(sku="BARE", name="Bez zdjęć", price=1)
    with_photos_and_parameters(loaded_bare := [bare, Offer.objects.get(pk=bare.pk)])
    assert [o.photo_list() for o in loaded_bare] == [[], []]
    assert loaded_bare[0].photo_list() is not loaded_bare[1].photo_list()

    # Not loaded with a chunk: read from the database, in the same order.
    fresh = [Offer.objects.get(pk=o.pk) for o in offers]
    with CaptureQueriesContext(connection) as queries:
        assert [(o.photo_list(), o.parameter_pairs()) for o in fresh] == lists
    assert len(queries) == 4
    named = lists[0][1][-2:]
    assert named == [("Rozmiar", "M"), ("Kolor", "czerwony")]
    assert [(o.photos_hash(), o.content_hash()) for o in fresh] == hashes

    # Prefetched the ORM's way: read from the prefetch, in the same order.
    prefetched = list(
        Offer.objects.filter(pk__in=[o.pk for o in offers])
        .order_by("pk")
        .prefetch_related("photos", "parameters")
    )
    with CaptureQueriesContext(connection) as queries:
        assert [(o.photo_list(), o.parameter_pairs()) for o in prefetched] == lists
    assert len(queries) == 0


def test_a_deferred_field_is_left_out_and_read_when_asked(integration):
    make_offers(integration, 3)
    links = OfferChannel.objects.filter(integration=integration).order_by("offer_id")
    expected = list(links.select_related("offer"))

    with CaptureQueriesContext(connection) as queries:
        built = instances(links.defer("offer__updated_at"), related="offer")
    assert len(queries) == 1 and "updated_at" not in queries[0]["sql"]
    offers = [link.offer for link in built]
    assert all(o.get_deferred_fields() == {"updated_at"} for o in offers)
    assert all(not link.get_deferred_fields() for link in built)
    # Asked for, it is read (a query each), as the ORM's deferred fields are.
    with CaptureQueriesContext(connection) as queries:
        assert [o.updated_at for o in offers] == [e.offer.updated_at for e in expected]
    assert len(queries) == 3
    # The link's own deferred field, too.
    built = instances(links.defer("external_id"))
    assert all(link.get_deferred_fields() == {"external_id"} for link in built)
    assert [link.external_id for link in built] == [e.external_id for e in expected]
