"""Everyday sync's dispatcher against the channel sandbox: only the changed data group goes, by
the channel's path; every send is accounted for in the site journal and the deliveries; a
refusal waits for a person, a transient error is retried with back-off; a switched-off
integration keeps its work."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.sync import dispatch
from offers.models import ChangeDelivery, PendingChange, SiteJournal
from offers.services import offer_channel_set_active
from tests.allegro_openapi import validate_allegro_request
from tests.catalogue import make_offers, sandbox_integration
from tests.sync_fixtures import dispatch_all, pending

pytestmark = pytest.mark.django_db(transaction=True)


def patches(wire):
    return [r.json() for r in wire.matching("PATCH", "/sale/product-offers/")]


def test_a_stock_change_patches_the_stock_alone_and_the_channel_holds_it(
    sandbox, sandbox_account, change_offers, wire
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 3)
    change_offers(offers[:2], stock=33)
    outcome = dispatch_all(allegro)
    assert (outcome.sent, outcome.failed) == (2, 0)
    assert patches(wire) == [{"stock": {"available": 33, "unit": "UNIT"}}] * 2
    for sent in wire.sent:
        validate_allegro_request(sent, allegro)
    held = sandbox.state("allegro", sandbox_account)["offers"]
    assert {held[str(1000 + n)]["stock"]["available"] for n in (1, 2)} == {33}
    assert str(1003) not in held  # nothing else went
    assert pending(allegro) == []
    row = SiteJournal.objects.get(offer=offers[0], integration=allegro)
    assert (row.stock_sent, row.status, row.price_sent) == (33, "ok", None)
    assert ChangeDelivery.objects.filter(integration=allegro, group="stock").count() == 2


def test_a_price_change_patches_the_price_alone(sent_one_change, wire):
    allegro, offer, _ = sent_one_change("allegro", price="12.34")
    assert patches(wire) == [{"sellingMode": {"price": {"amount": "12.34", "currency": "PLN"}}}]
    for sent in wire.sent:  # what Allegro's published spec accepts
        validate_allegro_request(sent, allegro)
    journal = SiteJournal.objects.get(offer=offer, integration=allegro)
    assert str(journal.price_sent) == "12.34" and journal.stock_sent is None


def test_a_name_change_sends_content_without_prices_stock_or_photos(sent_one_change, wire):
    sent_one_change("allegro", name="Kubek nowy")
    (body,) = patches(wire)
    assert body["name"] == "Kubek nowy"
    assert not {"sellingMode", "stock", "images"} & set(body)
    assert wire.matching("POST", "/sale/images") == []


def test_zalando_sends_a_stock_change_in_its_stocks_batch_alone(
    sandbox, sandbox_account, change_offers, wire
):
    zalando = sandbox_integration(sandbox, sandbox_account, "zalando")
    offers = make_offers(zalando, 4)
    change_offers(offers, stock=50)
    outcome = dispatch_all(zalando)
    assert outcome.sent == 4
    posts = wire.matching("POST")
    paths = [r.url.rsplit("/", 1)[-1] for r in posts if "/merchants/" in r.url]
    assert paths == ["stocks"]  # one batch of four; no prices, no product submission
    (batch,) = [r.json() for r in posts if r.url.endswith("/stocks")]
    assert len(batch["items"]) == 4


def test_woocommerce_sends_a_price_change_in_its_batch_alone(sent_one_change, wire):
    sent_one_change("woocommerce", price="7.00")
    (batch,) = [r.json() for r in wire.matching("POST", "/products/batch")]
    (update,) = batch["update"]
    assert set(update) == {"id", "regular_price"} and update["regular_price"] == "7.00"


def test_photos_go_only_when_the_set_differs_from_the_journal_or_after_reactivation(
    sandbox, sandbox_account, change_offers, wire
):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    (offer,) = make_offers(woo, 1)
    SiteJournal.objects.create(offer=offer, integration=woo, photos_hash=offer.photos_hash())
    # A photos row whose set the channel already holds: nothing is sent, the work is done.
    offer_channel_set_active(offer=offer, integration=woo, active=True)  # no change: nothing
    PendingChange.objects.create(
        offer=offer, integration=woo, group="photos", version=1,
        first_changed_at=timezone.now(), changed_at=timezone.now(),
    )  # fmt: skip
    outcome = dispatch_all(woo)
    assert outcome.dropped == 1 and wire.matching("POST") == []
    # Deactivate and re-activate: the journal forgot the hash, the photos go.
    offer_channel_set_active(offer=offer, integration=woo, active=False)
    offer_channel_set_active(offer=offer, integration=woo, active=True)
    dispatch_all(woo)
    sent = [r.json() for r in wire.matching("POST", "/products/batch")]
    with_images = [u for b in sent for u in b["update"] if "images" in u]
    assert len(with_images) == 1
    assert SiteJournal.objects.get(offer=offer).photos_hash == offer.photos_hash()


def test_a_refusal_waits_with_the_channels_reason_until_a_retry(
    sandbox, sandbox_account, change_offers
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 3)
    sandbox.configure("allegro", sandbox_account, reject_name_pattern=r"Zła nazwa")
    change_offers(offers, per_offer={offers[1].pk: {"name": "Zła nazwa"}}, stock=9)
    outcome = dispatch_all(allegro)
    assert (outcome.sent, outcome.failed) == (2, 1)
    refused = list(PendingChange.objects.filter(refused=True).order_by("group"))
    # Its content and stock went in one PATCH: both wait, with Allegro's words.
    assert [(r.offer_id, r.group) for r in refused] == [
        (offers[1].pk, "content"),
        (offers[1].pk, "stock"),
    ]
    refused = refused[0]
    assert refused.pending and refused.last_error
    journal = SiteJournal.objects.get(offer=offers[1], integration=allegro)
    assert journal.status == "error" and journal.message == refused.last_error
    assert dispatch_all(allegro).sent == 0  # not retried by itself
    sandbox.configure("allegro", sandbox_account, reject_name_pattern="")
    assert dispatch.retry_refused(allegro.pk) == 2  # its content and stock rows
    assert dispatch_all(allegro).sent == 1
    assert pending(allegro) == []


def test_a_channel_that_does_not_answer_is_retried_with_back_off(
    sandbox, sandbox_account, change_offers
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    (offer,) = make_offers(allegro, 1)
    sandbox.configure("allegro", sandbox_account, fail_rate=1.0)
    change_offers([offer], stock=70)
    before = timezone.now()
    outcome = dispatch.dispatch(allegro.pk)
    assert (outcome.sent, outcome.retried) == (0, 1)
    (row,) = pending(allegro)
    assert row.attempts == 1 and not row.refused and row.last_error
    assert row.next_attempt_at >= before + timedelta(seconds=dispatch.backoff(1))
    assert dispatch.dispatch(allegro.pk).retried == 0  # not due yet
    PendingChange.objects.update(next_attempt_at=timezone.now())
    assert dispatch.dispatch(allegro.pk).retried == 1
    row.refresh_from_db()
    assert row.attempts == 2 and dispatch.backoff(2) > dispatch.backoff(1)
    sandbox.configure("allegro", sandbox_account, fail_rate=0)
    PendingChange.objects.update(next_attempt_at=timezone.now())
    assert dispatch_all(allegro).sent == 1


def test_a_newer_change_keeps_the_back_off_of_a_channel_that_is_down(
    sandbox, sandbox_account, change_offers, wire
):
    """Found by bench/everyday_sync_faults.py down: a newer change cleared the back-off, so a
    channel that was down got a send for every change (4,337 requests in 5 minutes)."""
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    (offer,) = make_offers(allegro, 1)
    sandbox.configure("allegro", sandbox_account, fail_rate=1.0)
    change_offers([offer], stock=70)
    assert dispatch.dispatch(allegro.pk).retried == 1
    (row,) = pending(allegro)
    waiting_until = row.next_attempt_at
    tried = len(wire.sent)
    change_offers([offer], stock=71)
    assert dispatch.dispatch(allegro.pk).retried == 0  # still waiting: nothing sent
    assert len(wire.sent) == tried
    row.refresh_from_db()
    assert (row.attempts, row.next_attempt_at) == (1, waiting_until)
    sandbox.configure("allegro", sandbox_account, fail_rate=0)
    PendingChange.objects.update(next_attempt_at=timezone.now())
    assert dispatch_all(allegro).sent == 1
    assert patches(wire)[-1] == {"stock": {"available": 71, "unit": "UNIT"}}


def test_a_newer_change_of_a_refused_row_goes_at_once(sandbox, sandbox_account, change_offers):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    (offer,) = make_offers(allegro, 1)
    change_offers([offer], stock=5)
    PendingChange.objects.update(
        refused=True, attempts=1, next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    change_offers([offer], stock=6)
    (row,) = pending(allegro)
    assert (row.refused, row.attempts, row.next_attempt_at) == (False, 0, None)
    assert dispatch_all(allegro).sent == 1


@pytest.mark.parametrize("switch", ["sync_changes", "active"])
def test_a_switched_off_integration_keeps_its_work_unsent(
    sandbox, sandbox_account, change_offers, wire, switch
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 2)
    type(allegro).objects.filter(pk=allegro.pk).update(**{switch: False})
    change_offers(offers, stock=3)
    assert dispatch.integrations_due() == []
    assert dispatch_all(allegro).sent == 0 and wire.sent == []
    assert len(pending(allegro)) == 2
    type(allegro).objects.filter(pk=allegro.pk).update(**{switch: True})
    assert dispatch_all(allegro).sent == 2 and pending(allegro) == []


def test_amazon_sends_a_stock_change_as_a_listings_patch_of_that_attribute_alone(
    sent_one_change, wire
):
    amazon, offer, outcome = sent_one_change("amazon", stock=61)
    assert outcome.sent == 1
    (patch,) = [r.json() for r in wire.matching("PATCH", "/listings/2021-08-01/items/")]
    assert [op["path"] for op in patch["patches"]] == ["/attributes/fulfillment_availability"]
    journal = SiteJournal.objects.get(offer=offer, integration=amazon)
    assert journal.stock_sent == 61


def test_the_sync_log_shows_an_everyday_send_as_an_everyday_change(
    sandbox, sandbox_account, change_offers, seller
):
    from django.urls import reverse

    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 2)
    SiteJournal.objects.create(
        offer=offers[1], integration=allegro, synced_at=timezone.now(), stock_sent=2
    )  # as a resync left it
    change_offers(offers[:1], stock=44)
    dispatch_all(allegro)
    page = seller.get(reverse("v2:sync_log")).content.decode()
    assert page.count("data-everyday") == 1
    assert "zmiana na bieżąco" in page


def test_each_send_spends_under_its_groups_priority(
    sandbox, sandbox_account, change_offers, monkeypatch
):
    from integrations.shopconnect import budgets

    seen = []
    original = budgets.spend

    def spend(spends, **kwargs):
        seen.append(budgets.current_priority())
        return original(spends, **kwargs)

    monkeypatch.setattr(budgets, "spend", spend)
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 3)  # stock 1, 2, 3
    change_offers(offers, per_offer={offers[0].pk: {"stock": 0}, offers[1].pk: {"price": "9.99"}})
    seen.clear()
    dispatch_all(allegro)
    patches_spent = [p for p in seen if p != budgets.Priority.RUN]
    assert budgets.Priority.ZERO_STOCK in patches_spent
    assert budgets.Priority.PRICE in patches_spent
    # Stock falling to 0 goes first.
    assert patches_spent[0] == budgets.Priority.ZERO_STOCK


def test_a_claim_left_by_a_killed_process_frees_itself(
    sandbox, sandbox_account, change_offers, settings
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    (offer,) = make_offers(allegro, 1)
    change_offers([offer], stock=45)
    # A dispatcher claimed the row, then died before recording anything.
    PendingChange.objects.update(
        claimed_by="dead", claimed_until=timezone.now() + timedelta(seconds=60)
    )
    assert dispatch_all(allegro).sent == 0  # still its claim
    PendingChange.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert dispatch_all(allegro).sent == 1
    assert pending(allegro) == []
