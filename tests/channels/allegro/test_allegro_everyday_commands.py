"""Everyday changes on Allegro in bulk: when at least ALLEGRO_SYNC_COMMAND_MIN offers pending in
one round share a new price (or a stock above 0), they go by one price (quantity) change
command, written before it is sent and confirmed offer by offer from its tasks
(integrations/sync/awaiting.py); the rest, and stock 0 always, by PATCH — against the sandbox
over HTTP."""

from decimal import Decimal

import pytest

from integrations.models import ChannelBatch
from integrations.sync import dispatch
from offers.models import ChangeDelivery, PendingChange, SiteJournal
from tests.allegro_openapi import validate_allegro_request
from tests.catalogue import make_offers, sandbox_integration
from tests.sync_fixtures import dispatch_until_settled, pending

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english_messages")]

OFFERS = 30


@pytest.fixture
def allegro(sandbox, sandbox_account, settings):
    settings.ALLEGRO_SYNC_COMMAND_MIN = 20
    sandbox.configure("allegro", sandbox_account, command_delay_seconds=0.2)
    integration = sandbox_integration(sandbox, sandbox_account, "allegro")
    return integration, make_offers(integration, OFFERS)


def listing(offer) -> str:
    return str(1000 + int(offer.sku[1:]))


def commands(sandbox, account, kind: str) -> dict:
    return sandbox.state("allegro", account)["counters"]["commands"][kind]


def held(sandbox, account) -> dict:
    return sandbox.state("allegro", account)["offers"]


def patches(wire):
    return wire.matching("PATCH", "/sale/product-offers/")


def test_thirty_offers_set_to_one_price_go_by_one_price_command_and_are_confirmed(
    sandbox, sandbox_account, allegro, change_offers, wire
):
    integration, offers = allegro
    change_offers(offers, price="12.34")

    dispatch_until_settled(integration)

    price = commands(sandbox, sandbox_account, "price")
    assert (price["accepted"], price["offers"], price["conflicts"]) == (1, OFFERS, 0)
    assert patches(wire) == []
    shop = held(sandbox, sandbox_account)
    for offer in offers:
        assert shop[listing(offer)]["sellingMode"]["price"] == {
            "amount": "12.34",
            "currency": "PLN",
        }
    for sent in wire.sent:  # what Allegro's published spec accepts
        validate_allegro_request(sent, integration)
    journal = SiteJournal.objects.filter(integration=integration)
    assert {str(j.price_sent) for j in journal} == {"12.34"} and journal.count() == OFFERS
    assert ChangeDelivery.objects.filter(integration=integration, group="price").count() == OFFERS
    assert pending(integration) == []
    [batch] = ChannelBatch.objects.filter(integration=integration)
    assert (batch.operation, batch.status, batch.recorded) == ("allegro:price", "done", True)


def test_a_mixed_round_sends_one_quantity_command_and_a_patch_for_each_other_stock(
    sandbox, sandbox_account, allegro, change_offers, wire
):
    integration, offers = allegro
    distinct = {offer.pk: {"stock": 40 + n} for n, offer in enumerate(offers[25:])}
    change_offers(offers, per_offer=distinct, stock=77)  # no offer holds 77 yet

    dispatch_until_settled(integration)

    quantity = commands(sandbox, sandbox_account, "quantity")
    assert (quantity["accepted"], quantity["offers"]) == (1, 25)
    assert commands(sandbox, sandbox_account, "price")["accepted"] == 0
    assert sorted(r.json()["stock"]["available"] for r in patches(wire)) == [40, 41, 42, 43, 44]
    shop = held(sandbox, sandbox_account)
    assert {shop[listing(o)]["stock"]["available"] for o in offers[:25]} == {77}
    journal = {
        j.offer_id: j.stock_sent for j in SiteJournal.objects.filter(integration=integration)
    }
    assert journal == {o.pk: 77 for o in offers[:25]} | {
        o.pk: 40 + n for n, o in enumerate(offers[25:])
    }
    assert pending(integration) == []


def test_stock_zero_goes_by_patch_even_when_many_offers_share_it(
    sandbox, sandbox_account, allegro, change_offers, wire, settings
):
    settings.SYNC_GUARD_ZERO_PERCENT = 100  # not a wave the guardrail holds, here
    integration, offers = allegro
    change_offers(offers[:21], stock=0)  # offer 17 holds 0 already: 20 change

    dispatch_until_settled(integration)

    assert commands(sandbox, sandbox_account, "quantity")["accepted"] == 0
    assert [r.json() for r in patches(wire)] == [{"stock": {"available": 0, "unit": "UNIT"}}] * 20
    assert not ChannelBatch.objects.filter(integration=integration).exists()
    assert pending(integration) == []


def test_an_offer_whose_task_allegro_fails_is_refused_with_allegros_message(
    sandbox, sandbox_account, allegro, change_offers
):
    integration, offers = allegro
    failing = offers[3]
    sandbox.configure("allegro", sandbox_account, command_fail_ids=[listing(failing)])
    change_offers(offers, price="15.00")

    dispatch_until_settled(integration)

    [refused] = PendingChange.objects.filter(integration=integration, refused=True)
    assert (refused.offer_id, refused.group) == (failing.pk, "price")
    assert "could not be changed (sandbox)" in refused.last_error
    journal = SiteJournal.objects.get(offer=failing, integration=integration)
    assert journal.status == "error" and journal.message == refused.last_error
    confirmed = SiteJournal.objects.filter(integration=integration, price_sent=Decimal("15.00"))
    assert confirmed.count() == OFFERS - 1


def test_a_change_made_while_the_command_is_in_flight_goes_again_with_the_newer_value(
    sandbox, sandbox_account, allegro, change_offers, wire
):
    integration, offers = allegro
    sandbox.configure("allegro", sandbox_account, command_delay_seconds=1.5)
    change_offers(offers, price="12.34")

    dispatch.dispatch(integration.pk)  # the command registered, not carried out yet
    assert commands(sandbox, sandbox_account, "price")["accepted"] == 1
    change_offers([offers[0]], price="19.99")

    dispatch_until_settled(integration)

    shop = held(sandbox, sandbox_account)
    assert shop[listing(offers[0])]["sellingMode"]["price"]["amount"] == "19.99"
    assert shop[listing(offers[1])]["sellingMode"]["price"]["amount"] == "12.34"
    [patch] = patches(wire)  # the newer value, alone, after the command's report
    assert patch.json() == {"sellingMode": {"price": {"amount": "19.99", "currency": "PLN"}}}
    journal = SiteJournal.objects.get(offer=offers[0], integration=integration)
    assert journal.price_sent == Decimal("19.99")
    assert pending(integration) == []
