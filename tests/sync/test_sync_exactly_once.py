"""Each change exactly once after a kill -9 (issue 26): a round records each confirmation as its
answer arrives; a round that died with requests in flight leaves its rows in doubt, and the next
round READS the channel before sending them again — a value the channel holds is confirmed
without a request; a newer value still goes, and wins. A channel that cannot read one listing
(Zalando) sends again: at least once."""

import threading
import time

import pytest

from offers.models import ChangeDelivery, PendingChange, SiteJournal
from tests.amazon_models import amazon_integration
from tests.catalogue import make_offers, sandbox_integration
from tests.sync_fixtures import dispatch_all, pending, round_cut_before_its_record

pytestmark = pytest.mark.django_db(transaction=True)

# Per channel: (its stock write, its read of one listing), as the wire log shows them.
WRITES = {
    "allegro": ("PATCH", "/sale/product-offers/"),
    "woocommerce": ("POST", "/products/batch"),
    "amazon": ("PATCH", "/listings/2021-08-01/items/"),
    "zalando": ("POST", "/stocks"),
}
READS = {
    "allegro": ("GET", "/sale/product-offers/"),
    "woocommerce": ("GET", "/wp-json/wc/v3/products/"),
    "amazon": ("GET", "/listings/2021-08-01/items/"),
    "zalando": ("GET", "/stocks"),
}


def integration_of(sandbox, account, channel):
    if channel == "amazon":
        return amazon_integration(sandbox, account)
    return sandbox_integration(sandbox, account, channel)


def held_stock(sandbox, account, channel, integration, offer) -> int | None:
    """The stock the sandbox holds for the offer's listing."""
    link = offer.channels.get(integration=integration)
    offers = sandbox.state(channel, account)["offers"]
    if channel == "allegro":
        return offers[link.external_id]["stock"]["available"]
    if channel == "woocommerce":
        return offers[link.external_id]["stock_quantity"]
    if channel == "amazon":
        key = link.external_id or offer.sku
        return offers[key]["attributes"]["fulfillment_availability"][0]["quantity"]
    return next(iter(offers[offer.ean]["stocks"].values()))


@pytest.mark.parametrize("channel", ["allegro", "woocommerce", "amazon"])
def test_a_send_cut_after_it_reached_the_channel_is_confirmed_by_a_read_not_sent_twice(
    sandbox, sandbox_account, change_offers, wire, channel
):
    integration = integration_of(sandbox, sandbox_account, channel)
    offers = make_offers(integration, 3)
    change_offers(offers, stock=33)
    rows = round_cut_before_its_record(integration)
    writes = len(wire.matching(*WRITES[channel]))
    assert writes >= 1 and wire.matching(*READS[channel]) == []
    assert PendingChange.objects.filter(pk__in=rows, in_flight=True, pending=True).count() == 3

    outcome = dispatch_all(integration)

    assert len(wire.matching(*WRITES[channel])) == writes  # nothing written again
    assert len(wire.matching(*READS[channel])) == 3  # each listing read once
    assert outcome.sent == 3 and pending(integration) == []
    assert not PendingChange.objects.filter(pk__in=rows, in_flight=True).exists()
    # Accounted for as any confirmation: the site journal and the deliveries.
    assert {j.stock_sent for j in SiteJournal.objects.filter(integration=integration)} == {33}
    assert ChangeDelivery.objects.filter(integration=integration, group="stock").count() == 3
    for offer in offers:
        assert held_stock(sandbox, sandbox_account, channel, integration, offer) == 33


def test_a_send_cut_before_it_reached_the_channel_goes_once(
    sandbox, sandbox_account, change_offers, wire
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    (offer,) = make_offers(allegro, 1)
    change_offers([offer], stock=21)
    round_cut_before_its_record(allegro, reached=False)
    assert wire.matching(*WRITES["allegro"]) == []

    assert dispatch_all(allegro).sent == 1

    # Read first (the listing does not hold 21), then sent: once.
    assert len(wire.matching(*READS["allegro"])) == 1
    (patch,) = wire.matching(*WRITES["allegro"])
    assert patch.json() == {"stock": {"available": 21, "unit": "UNIT"}}
    assert held_stock(sandbox, sandbox_account, "allegro", allegro, offer) == 21
    assert pending(allegro) == []


def test_a_newer_value_committed_after_the_cut_send_still_wins(
    sandbox, sandbox_account, change_offers, wire
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    (offer,) = make_offers(allegro, 1)
    change_offers([offer], stock=33)
    round_cut_before_its_record(allegro)
    offer.refresh_from_db()
    change_offers([offer], stock=44)  # after the dead round's send

    assert dispatch_all(allegro).sent == 1

    stocks = [p.json()["stock"]["available"] for p in wire.matching(*WRITES["allegro"])]
    assert stocks == [33, 44]  # the channel's 33 is not the newest: 44 goes, once
    assert held_stock(sandbox, sandbox_account, "allegro", allegro, offer) == 44
    assert SiteJournal.objects.get(offer=offer, integration=allegro).stock_sent == 44
    assert pending(allegro) == []


def test_a_channel_that_cannot_read_a_listing_sends_a_change_in_doubt_again(
    sandbox, sandbox_account, change_offers, wire
):
    zalando = sandbox_integration(sandbox, sandbox_account, "zalando")
    (offer,) = make_offers(zalando, 1)
    change_offers([offer], stock=12)
    round_cut_before_its_record(zalando)

    assert dispatch_all(zalando).sent == 1

    # At least once: the same value again (a stock set, not added), never lost.
    assert len(wire.matching(*WRITES["zalando"])) == 2
    assert held_stock(sandbox, sandbox_account, "zalando", zalando, offer) == 12
    assert pending(zalando) == []


def test_a_round_records_each_confirmation_as_its_answer_arrives(
    sandbox, sandbox_account, change_offers, settings
):
    settings.ALLEGRO_SYNC_COMMAND_MIN = 1000  # one PATCH each, not a quantity command
    # 40 offers, at most 32 PATCHes in flight, answers in 0.6 s: the first answers are
    # recorded while the rest are still on their way (a kill then would leave only those).
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 40)
    change_offers(offers, stock=99)
    sandbox.configure("allegro", sandbox_account, latency_ms=600)
    seen = []
    done = threading.Event()

    def watch():
        from django.db import connection

        try:
            while not done.is_set():
                rows = PendingChange.objects.filter(integration=allegro)
                confirmed = rows.filter(pending=False).count()
                in_flight = rows.filter(pending=True, in_flight=True).count()
                if confirmed and in_flight:
                    seen.append((confirmed, in_flight))
                time.sleep(0.02)
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        outcome = dispatch_all(allegro)
    finally:
        done.set()
        watcher.join(10)
    assert outcome.sent == 40 and pending(allegro) == []
    assert seen, "no moment with some rows confirmed while others were in flight"
    assert not PendingChange.objects.filter(integration=allegro, in_flight=True).exists()
