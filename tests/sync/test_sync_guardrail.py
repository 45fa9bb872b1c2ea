"""The guardrail: a wave of changes that would zero the stock of many offers, or cut many
prices by more than half, is held until a person confirms or discards it."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from integrations.sync import guard
from offers.models import ChangeWave, SiteJournal
from tests.catalogue import make_offers, sandbox_integration
from tests.sync_fixtures import dispatch_all, pending

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def guard_settings(settings):
    settings.SYNC_GUARD_ZERO_PERCENT = 20
    settings.SYNC_GUARD_PRICE_CUT_PERCENT = 5
    settings.SYNC_GUARD_MIN_OFFERS = 3
    return settings


def held_stocks(sandbox, account):
    return {
        listing: offer["stock"]["available"]
        for listing, offer in sandbox.state("allegro", account)["offers"].items()
        if "stock" in offer
    }


def test_a_wave_of_stock_zero_is_held_until_confirmed(
    sandbox, sandbox_account, change_offers, guard_settings, wire
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 20)
    change_offers(offers[:5], stock=0)  # 25 % of 20 offers, above 20 %
    change_offers(offers[10:11], name="Nazwa poprawiona")  # content is not held
    outcome = dispatch_all(allegro)
    assert outcome.held and outcome.sent == 1
    assert [r.json() for r in wire.matching("PATCH")][0].get("name") == "Nazwa poprawiona"
    wave = ChangeWave.objects.get(integration=allegro)
    assert (wave.decision, wave.zeroed, wave.offers) == ("held", 5, 20)
    assert len(pending(allegro, group="stock")) == 5
    assert held_stocks(sandbox, sandbox_account) == {}
    call_command("sync_changes", allegro.name, "--confirm-wave")
    assert dispatch_all(allegro).sent == 5
    assert set(held_stocks(sandbox, sandbox_account).values()) == {0}
    wave.refresh_from_db()
    assert wave.decision == "confirmed" and wave.decided_by == "cli"


def test_a_discarded_wave_is_never_sent_and_later_changes_go(
    sandbox, sandbox_account, change_offers, guard_settings
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 20)
    change_offers(offers[:6], stock=0)
    assert dispatch_all(allegro).held
    guard.decide_wave(allegro.pk, confirm=False, by="seller")
    assert pending(allegro) == []
    assert dispatch_all(allegro).sent == 0
    assert held_stocks(sandbox, sandbox_account) == {}
    change_offers(offers[6:7], stock=40)  # one ordinary change after the decision
    outcome = dispatch_all(allegro)
    assert not outcome.held and outcome.sent == 1


def test_a_few_stock_zeros_go_at_once(sandbox, sandbox_account, change_offers, guard_settings):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 20)
    change_offers(offers[:3], stock=0)  # 15 %: an ordinary day
    outcome = dispatch_all(allegro)
    assert not outcome.held and outcome.sent == 3
    assert not ChangeWave.objects.exists()


def test_a_wave_of_price_cuts_by_more_than_half_is_held(
    sandbox, sandbox_account, change_offers, guard_settings
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 40)
    SiteJournal.objects.bulk_create(
        SiteJournal(offer=o, integration=allegro, price_sent=o.price, currency_sent="PLN")
        for o in offers
    )
    cut = offers[10:13]  # 3 of 40 = 7.5 %, above 5 %
    third = {o.pk: (o.price / 3).quantize(Decimal("0.01")) for o in cut}
    change_offers(cut, per_offer={pk: {"price": price} for pk, price in third.items()})
    change_offers(offers[20:22], per_offer={o.pk: {"price": o.price * 2} for o in offers[20:22]})
    assert dispatch_all(allegro).held
    wave = ChangeWave.objects.get(integration=allegro)
    assert wave.price_cuts == 3 and wave.zeroed == 0
    guard.decide_wave(allegro.pk, confirm=True)
    assert dispatch_all(allegro).sent == 5
    sent = {j.offer_id: j.price_sent for j in SiteJournal.objects.filter(integration=allegro)}
    assert sent[cut[0].pk] == third[cut[0].pk]
