import pytest

from offers.models import Offer, OfferChannel, SiteJournal
from offers.services import offer_channel_remove, offer_channel_set_active

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer():
    return Offer.objects.create(sku="A1", name="Kubek", price="10.00", stock=1)


def test_deactivation_forgets_the_photo_hash_but_keeps_the_listing(offer, make_integration):
    woo = make_integration(channel="woocommerce")
    offer_channel_set_active(offer=offer, integration=woo, active=True, external_id="5")
    SiteJournal.objects.create(offer=offer, integration=woo, photos_hash="h1", content_hash="c1")
    offer_channel_set_active(offer=offer, integration=woo, active=False)
    journal = SiteJournal.objects.get()
    assert journal.photos_hash == ""
    assert journal.content_hash == "c1"
    link = OfferChannel.objects.get()
    assert (link.active, link.external_id) == (False, "5")


def test_activation_keeps_the_photo_hash(offer, make_integration):
    woo = make_integration(channel="woocommerce")
    offer_channel_set_active(offer=offer, integration=woo, active=True)
    SiteJournal.objects.create(offer=offer, integration=woo, photos_hash="h1")
    offer_channel_set_active(offer=offer, integration=woo, active=True)
    assert SiteJournal.objects.get().photos_hash == "h1"


def test_deactivation_touches_only_that_channel(offer, make_integration):
    woo = make_integration(channel="woocommerce")
    allegro = make_integration(name="Allegro 2")
    for integration in (woo, allegro):
        offer_channel_set_active(offer=offer, integration=integration, active=True)
        SiteJournal.objects.create(offer=offer, integration=integration, photos_hash="h")
    offer_channel_set_active(offer=offer, integration=woo, active=False)
    hashes = dict(SiteJournal.objects.values_list("integration__name", "photos_hash"))
    assert hashes == {woo.name: "", allegro.name: "h"}


def test_removing_a_link_forgets_the_photo_hash(offer, make_integration):
    woo = make_integration(channel="woocommerce")
    link = offer_channel_set_active(offer=offer, integration=woo, active=True)
    SiteJournal.objects.create(offer=offer, integration=woo, photos_hash="h1")
    offer_channel_remove(link=link)
    assert not OfferChannel.objects.exists()
    assert SiteJournal.objects.get().photos_hash == ""
