"""Everyday changes on Mirakl go by the same imports as a resync, as batches written before
they are sent (integrations/sync/awaiting.py): one OF01 PARTIAL_UPDATE per window with only the
changed columns, content and photos by P41, each confirmed when Mirakl reports it — against the
sandbox over HTTP, whose call frequencies answer 429 when exceeded."""

import pytest

from integrations.models import ChannelBatch
from integrations.services.runs import start_resync
from offers.models import ChangeDelivery, PendingChange, SiteJournal
from tests.catalogue import make_offers
from tests.mirakl_fixtures import frequencies_kept, held, mirakl_integration, sent_files
from tests.run_steps import drain
from tests.sync_fixtures import dispatch_until_settled, pending

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english_messages")]

OFFERS = 6


@pytest.fixture
def mirakl(sandbox, sandbox_account, settings):
    """A Mirakl integration whose offers a resync put on the shop (the journal knows them)."""
    integration = mirakl_integration(sandbox, sandbox_account, settings)
    offers = make_offers(integration, OFFERS, photos=1)
    run = drain(start_resync(integration, source="cli"))
    assert run.sent == OFFERS
    PendingChange.objects.filter(integration=integration).delete()  # the resync sent them
    return integration, offers


def key(offer) -> str:
    return str(1000 + int(offer.sku[1:]))


def offer_files(wire):
    return sent_files(wire, "/api/offers/imports")


def offer_imports(sandbox, account) -> int:
    return sandbox.state("mirakl", account)["import_count"]


def everyday_batches(integration):
    return list(ChannelBatch.objects.filter(integration=integration).order_by("pk"))


def test_a_price_and_a_stock_change_go_in_one_partial_update_with_only_those_columns(
    sandbox, sandbox_account, mirakl, change_offers, wire
):
    integration, offers = mirakl
    change_offers([offers[0]], price="12.34")
    change_offers([offers[1]], stock=0)

    dispatch_until_settled(integration)

    [(mode, header, rows)] = offer_files(wire)
    assert (mode, header) == ("PARTIAL_UPDATE", ["sku", "price", "quantity"])
    assert sorted(rows) == [[key(offers[0]), "12.34", ""], [key(offers[1]), "", "0"]]
    shop = held(sandbox, sandbox_account)
    assert shop[key(offers[0])]["price"] == "12.34"
    assert shop[key(offers[0])]["quantity"] == offers[0].stock  # its empty cell left it
    assert shop[key(offers[1])]["quantity"] == 0
    assert pending(integration) == []
    journal = {j.offer_id: j for j in SiteJournal.objects.filter(integration=integration)}
    assert str(journal[offers[0].pk].price_sent) == "12.34"
    assert journal[offers[1].pk].stock_sent == 0
    deliveries = ChangeDelivery.objects.filter(integration=integration)
    assert sorted(deliveries.values_list("group", flat=True)) == ["price", "stock"]
    [batch] = everyday_batches(integration)
    assert (batch.operation, batch.status, batch.recorded) == ("mirakl:offers", "done", True)
    calls = frequencies_kept(sandbox, sandbox_account)  # never a 429
    assert "OF24" not in calls and "PRI01" not in calls and "STO01" not in calls


def test_changes_within_the_window_wait_and_go_together_in_the_next_import(
    sandbox, sandbox_account, mirakl, change_offers, settings
):
    integration, offers = mirakl
    settings.CHANNEL_LIMITS = {"mirakl": {**settings.CHANNEL_LIMITS["mirakl"], "of01": [[1, 4]]}}
    from integrations.sync import dispatch

    change_offers([offers[0]], price="20.00")
    dispatch.dispatch(integration.pk)  # the first import goes at once
    change_offers([offers[1]], price="21.00")
    dispatch.dispatch(integration.pk)  # OF01's window has no room: it waits
    change_offers([offers[2]], stock=7)
    dispatch.dispatch(integration.pk)

    assert len(everyday_batches(integration)) == 1
    dispatch_until_settled(integration)

    assert [len(b.offers) for b in everyday_batches(integration)] == [1, 2]
    shop = held(sandbox, sandbox_account)
    assert (shop[key(offers[1])]["price"], shop[key(offers[2])]["quantity"]) == ("21.00", 7)
    assert pending(integration) == []
    frequencies_kept(sandbox, sandbox_account)


def test_a_refused_line_becomes_a_refusal_with_mirakls_message(
    sandbox, sandbox_account, mirakl, change_offers
):
    integration, offers = mirakl
    sandbox.configure(
        "mirakl", sandbox_account, refuse_skus={key(offers[2]): "Cena poza widełkami operatora."}
    )
    change_offers(offers[1:3], price="3.00")

    dispatch_until_settled(integration)

    refused = PendingChange.objects.get(integration=integration, refused=True)
    assert (refused.offer_id, refused.group) == (offers[2].pk, "price")
    assert (refused.last_code, refused.last_error) == ("OF03", "Cena poza widełkami operatora.")
    journal = SiteJournal.objects.get(integration=integration, offer=offers[2])
    assert (journal.status, journal.message) == ("error", "Cena poza widełkami operatora.")
    sent = SiteJournal.objects.get(integration=integration, offer=offers[1])
    assert str(sent.price_sent) == "3.00"


def test_a_change_made_while_its_import_is_in_flight_goes_again_with_the_newer_value(
    sandbox, sandbox_account, mirakl, change_offers, wire
):
    from integrations.sync import dispatch

    integration, offers = mirakl
    change_offers([offers[0]], price="30.00")
    dispatch.dispatch(integration.pk)  # submitted: Mirakl is carrying it out
    [batch] = everyday_batches(integration)
    assert batch.status in ("prepared", "submitted")
    change_offers([offers[0]], price="31.00")

    dispatch_until_settled(integration)

    assert [rows for __, __, rows in offer_files(wire)] == [
        [[key(offers[0]), "30.00"]],
        [[key(offers[0]), "31.00"]],
    ]
    assert held(sandbox, sandbox_account)[key(offers[0])]["price"] == "31.00"
    journal = SiteJournal.objects.get(integration=integration, offer=offers[0])
    assert str(journal.price_sent) == "31.00"
    assert pending(integration) == []


def test_content_and_photos_go_by_product_imports_with_images_only_when_they_changed(
    sandbox, sandbox_account, mirakl, change_offers, wire
):
    integration, offers = mirakl
    change_offers([offers[0]], name="Kubek nowy", description="Nowy opis")
    change_offers([offers[1]], photos=["other.jpg"])

    dispatch_until_settled(integration, seconds=60)

    products = sent_files(wire, "/api/products/imports")
    # A product file has image columns or none: the changed photo set first, then the
    # content in P41's next window.
    assert [[row[0] for row in rows] for __, __, rows in products] == [
        [key(offers[1])],
        [key(offers[0])],
    ]
    assert "image-1" in products[0][1] and "image-1" not in products[1][1]
    assert products[1][2][0][1] == "Kubek nowy"
    assert offer_files(wire)[-1][1:] == (["sku", "description"], [[key(offers[0]), "Nowy opis"]])
    assert held(sandbox, sandbox_account)[key(offers[0])]["description"] == "Nowy opis"
    assert pending(integration) == []
    frequencies_kept(sandbox, sandbox_account)


def test_a_lost_answer_finds_the_import_in_mirakls_list_and_never_sends_it_twice(
    sandbox, sandbox_account, mirakl, change_offers
):
    integration, offers = mirakl
    before = offer_imports(sandbox, sandbox_account)
    sandbox.configure("mirakl", sandbox_account, lose_next_answers={"OF01": 1})
    change_offers([offers[0]], stock=5)

    dispatch_until_settled(integration)

    assert offer_imports(sandbox, sandbox_account) == before + 1
    [batch] = everyday_batches(integration)
    assert batch.changes.get("import_found") is True
    assert held(sandbox, sandbox_account)[key(offers[0])]["quantity"] == 5
    assert pending(integration) == []
    assert frequencies_kept(sandbox, sandbox_account)["OF04"] >= 1


def test_an_import_mirakl_did_not_take_is_looked_for_then_sent_again_once(
    sandbox, sandbox_account, mirakl, change_offers, monkeypatch
):
    """A 500 to the import may be a lost answer: Mirakl's list of imports is read first; the
    import not there (once no request can still be in flight), it is sent again, once."""
    from integrations.saleschannels.mirakl import imports

    monkeypatch.setattr(imports, "IN_FLIGHT_SECONDS", 0)
    integration, offers = mirakl
    before = offer_imports(sandbox, sandbox_account)
    sandbox.configure("mirakl", sandbox_account, fail_next_calls={"OF01": 1})  # a 500
    change_offers([offers[0]], stock=9)

    dispatch_until_settled(integration, seconds=60)

    [batch] = everyday_batches(integration)
    assert (batch.status, batch.attempts) == ("done", 2)
    assert offer_imports(sandbox, sandbox_account) == before + 1
    assert held(sandbox, sandbox_account)[key(offers[0])]["quantity"] == 9
    row = PendingChange.objects.get(integration=integration, offer=offers[0], group="stock")
    assert (row.pending, row.refused, row.attempts) == (False, False, 0)
    assert frequencies_kept(sandbox, sandbox_account)["OF04"] >= 1


def test_a_row_a_resync_requeued_while_its_import_was_in_flight_goes_again_at_once(
    sandbox, sandbox_account, mirakl, change_offers, wire
):
    """Newest wins against a resync: a resync that sent an older read of the offer while the
    change's import was in flight re-queues the row (offers/newest.py); the import's record
    cannot confirm it, and the row goes again in the next import — not after its claim's
    hour."""
    from decimal import Decimal

    from django.db import transaction

    from integrations.sync import dispatch
    from offers import newest
    from offers.models import Offer

    integration, offers = mirakl
    change_offers([offers[0]], price="40.00")
    dispatch.dispatch(integration.pk)  # the import is in flight
    read_before = Offer.objects.get(pk=offers[0].pk)
    read_before.price = Decimal("39.00")  # what the resync read, and sent, before the change
    with transaction.atomic():
        assert newest.requeue_raced(integration.pk, [read_before], "prices_stock") == 1

    dispatch_until_settled(integration, seconds=30)

    assert [rows for __, __, rows in offer_files(wire)] == [
        [[key(offers[0]), "40.00"]],
        [[key(offers[0]), "40.00"]],
    ]
    row = PendingChange.objects.get(integration=integration, offer=offers[0], group="price")
    assert (row.pending, row.claimed_by) == (False, "")
