"""Everyday sync's outbox: every change to what a channel shows is pending work, written in the
change's own transaction, coalesced per (offer, integration, data group), with a version."""

import pytest
from django.db import transaction

from offers import outbox
from offers.models import OfferChannel, PendingChange
from offers.services import offer_channel_set_active
from tests.catalogue import make_offers
from tests.sync_fixtures import pending

pytestmark = pytest.mark.django_db


def test_an_imported_stock_change_is_pending_for_each_integration_the_offer_is_active_on(
    make_integration, change_offers
):
    allegro = make_integration(name="A")
    woo = make_integration(name="W", channel="woocommerce")
    offers = make_offers(allegro, 3)
    OfferChannel.objects.create(offer=offers[0], integration=woo, active=True, external_id="9")
    OfferChannel.objects.create(offer=offers[1], integration=woo, active=False, external_id="8")
    change_offers(offers[:2], stock=40)
    assert [(r.offer_id, r.group) for r in pending(allegro)] == [
        (offers[0].pk, "stock"),
        (offers[1].pk, "stock"),
    ]
    # Inactive on WooCommerce: nothing pending there for offers[1].
    assert [(r.offer_id, r.group) for r in pending(woo)] == [(offers[0].pk, "stock")]
    assert len({r.version for r in pending(allegro) + pending(woo)}) == 1  # one transaction


def test_each_changed_field_lands_in_its_data_group_only(make_integration, change_offers):
    allegro = make_integration()
    a, b, c, d = make_offers(allegro, 4)
    change_offers(
        [a, b, c, d],
        per_offer={
            a.pk: {"price": "1.50"},
            b.pk: {"name": "Nowa nazwa"},
            c.pk: {"parameters": [{"name": "Kolor", "value": "zielony"}]},
            d.pk: {"photos": ["other.jpg"]},
        },
    )
    assert [(r.offer_id, r.group) for r in pending(allegro)] == [
        (a.pk, "price"),
        (b.pk, "content"),
        (c.pk, "content"),
        (d.pk, "photos"),
    ]


def test_an_import_that_changes_nothing_leaves_no_work(make_integration, change_offers):
    allegro = make_integration()
    offers = make_offers(allegro, 3)
    change_offers(offers)
    assert PendingChange.objects.count() == 0


def test_a_rolled_back_change_leaves_no_pending_work(make_integration):
    allegro = make_integration()
    (offer,) = make_offers(allegro, 1)
    with pytest.raises(RuntimeError), transaction.atomic():
        offer.stock = 99
        offer.save()
        outbox.record_changes([(offer.pk, "stock")])
        assert PendingChange.objects.count() == 1
        raise RuntimeError("the import's batch failed")
    assert PendingChange.objects.count() == 0


def test_a_newer_change_replaces_an_unsent_older_one_and_keeps_its_wait(
    make_integration, change_offers
):
    allegro = make_integration()
    (offer,) = make_offers(allegro, 1)
    change_offers([offer], stock=5)
    (first,) = pending(allegro)
    change_offers([offer], stock=6)
    (second,) = pending(allegro)
    assert second.pk == first.pk and second.version > first.version
    # Still unsent: freshness counts from the first change's commit.
    assert second.first_changed_at == first.first_changed_at
    assert second.changed_at > first.changed_at


def test_versions_come_from_the_database_counter_in_commit_order(make_integration):
    allegro = make_integration()
    offers = make_offers(allegro, 2)
    before = outbox.current_version()
    outbox.record_changes([(offers[0].pk, "price")])
    outbox.record_changes([(offers[1].pk, "price")])
    versions = [r.version for r in pending(allegro)]
    assert versions == [before + 1, before + 2] and outbox.current_version() == before + 2


def test_activating_a_channel_on_an_offer_queues_photos_and_everything_else(make_integration):
    allegro = make_integration()
    (offer,) = make_offers(allegro, 1, active=False)
    assert PendingChange.objects.count() == 0
    offer_channel_set_active(offer=offer, integration=allegro, active=True)
    assert [r.group for r in pending(allegro)] == ["content", "photos", "price", "stock"]


def test_a_change_through_the_admin_offer_form_is_pending(make_integration, admin_client):
    allegro = make_integration()
    (offer,) = make_offers(allegro, 1)
    link = offer.channels.get()
    photo = offer.photos.get()
    parameter = offer.parameters.get()
    form = {
        "sku": offer.sku,
        "ean": offer.ean,
        "name": offer.name,
        "description": offer.description,
        "price": "3.33",
        "currency": offer.currency,
        "stock": offer.stock,
        "photos-TOTAL_FORMS": 1,
        "photos-INITIAL_FORMS": 1,
        "photos-0-id": photo.pk,
        "photos-0-offer": offer.pk,
        "photos-0-position": photo.position,
        "parameters-TOTAL_FORMS": 1,
        "parameters-INITIAL_FORMS": 1,
        "parameters-0-id": parameter.pk,
        "parameters-0-offer": offer.pk,
        "parameters-0-name": parameter.name,
        "parameters-0-value": parameter.value,
        "parameters-0-position": parameter.position,
        "channels-TOTAL_FORMS": 1,
        "channels-INITIAL_FORMS": 1,
        "channels-0-id": link.pk,
        "channels-0-offer": offer.pk,
        "channels-0-integration": allegro.pk,
        "channels-0-active": "on",
        "channels-0-external_id": link.external_id,
    }
    response = admin_client.post(f"/admin/offers/offer/{offer.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert [r.group for r in pending(allegro)] == ["price"]
