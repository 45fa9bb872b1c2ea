import pytest
from django.db import IntegrityError, transaction

from offers.models import Offer, OfferChannel, SiteJournal

pytestmark = pytest.mark.django_db


def refused(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_the_database_refuses_bad_offers(make_integration):
    Offer.objects.create(sku="A", name="x", price="1.00", stock=0)
    refused(lambda: Offer.objects.create(sku="A", name="dup", price="1.00"))
    refused(lambda: Offer.objects.create(sku="B", name="x", price="1.00", stock=-1))
    refused(lambda: Offer.objects.create(sku="C", name="x", price="-0.01"))


def test_one_link_and_one_journal_row_per_offer_and_integration(make_integration):
    integration = make_integration()
    offer = Offer.objects.create(sku="A", name="x", price="1.00")
    OfferChannel.objects.create(offer=offer, integration=integration)
    refused(lambda: OfferChannel.objects.create(offer=offer, integration=integration))
    SiteJournal.objects.create(offer=offer, integration=integration)
    refused(lambda: SiteJournal.objects.create(offer=offer, integration=integration))


def test_integration_names_are_unique(make_integration):
    make_integration(name="Same")
    refused(lambda: make_integration(name="Same", channel="zalando"))
