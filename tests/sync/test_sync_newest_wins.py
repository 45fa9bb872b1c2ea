"""Newest wins: a resync that read an offer before a change cannot leave its older value on the
channel, even when everyday sync sent the change before the resync's send landed. Two database
connections: the resync's (the test's worker threads) and the change's (a thread of its own)."""

import threading

import pytest
from django.db import connection

from integrations.saleschannels.allegro.adapter import AllegroAdapter
from integrations.services.runs import start_resync
from offers.models import PendingChange
from tests.catalogue import make_offers, sandbox_integration
from tests.run_steps import drain
from tests.sync_fixtures import dispatch_all, pending

pytestmark = pytest.mark.django_db(transaction=True)


def in_another_connection(work):
    """Run `work` in a thread of its own (its own database connection), to its end."""
    failure = []

    def run():
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - handed to the test
            failure.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert not thread.is_alive() and not failure, failure


def held_stock(sandbox, account, listing):
    return sandbox.state("allegro", account)["offers"][listing]["stock"]["available"]


def test_a_resync_that_read_before_a_change_never_leaves_the_older_value(
    sandbox, sandbox_account, change_offers, monkeypatch
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    (offer,) = make_offers(allegro, 1)  # stock 1
    listing = str(1000 + 1)
    original_send = AllegroAdapter.send
    raced = []

    def send_after_a_change(self, items, **kwargs):
        # The resync has read the offer (stock 1). Now a change commits and everyday sync
        # sends it before the resync's older value goes.
        if not raced:
            raced.append(True)

            def change_and_sync():
                change_offers([offer], stock=77)
                assert dispatch_all(allegro).sent == 1

            in_another_connection(change_and_sync)
            assert held_stock(sandbox, sandbox_account, listing) == 77
        return original_send(self, items, **kwargs)

    monkeypatch.setattr(AllegroAdapter, "send", send_after_a_change)
    run = drain(start_resync(allegro, source="cli"))
    assert run.status == "completed" and raced
    # The resync's older value landed last ...
    assert held_stock(sandbox, sandbox_account, listing) == 1
    # ... so its recording queued the stock again, at a newer version.
    (row,) = pending(allegro)
    assert row.group == "stock" and row.version > row.sent_version
    assert dispatch_all(allegro).sent == 1
    assert held_stock(sandbox, sandbox_account, listing) == 77
    assert pending(allegro) == []


def test_a_dispatch_whose_row_was_requeued_meanwhile_does_not_confirm_it(
    sandbox, sandbox_account, change_offers, monkeypatch
):
    """A resync re-queues a row while a dispatcher's send of it is in flight: the dispatcher's
    confirmation (of the generation it claimed) does not count, and the row goes again."""
    from offers import newest

    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    (offer,) = make_offers(allegro, 1)
    change_offers([offer], stock=20)
    original = AllegroAdapter.edit_offer
    seen = []

    def edit_then_requeue(self, snap, body, **kwargs):
        result = original(self, snap, body, **kwargs)
        if not seen:
            seen.append(True)
            stale = type(offer).objects.get(pk=offer.pk)
            stale.stock = 3  # what a resync read before the change
            in_another_connection(lambda: newest.requeue_raced(allegro.pk, [stale], "prices_stock"))
        return result

    monkeypatch.setattr(AllegroAdapter, "edit_offer", edit_then_requeue)
    assert dispatch_all(allegro, rounds=1).sent == 1
    row = PendingChange.objects.get(offer=offer, group="stock")
    assert row.pending and row.generation >= 1 and row.sent_version < row.version
    assert dispatch_all(allegro).sent == 1
    assert pending(allegro) == []


def test_a_batch_that_set_an_older_value_is_followed_by_the_newest(make_integration):
    """An asynchronous batch (an Allegro quantity command) carried out after a newer change:
    what it set is compared with the offer now, and the group goes again when they differ."""
    from offers import newest
    from offers.models import Offer

    allegro = make_integration()
    offers = make_offers(allegro, 3)
    Offer.objects.filter(pk=offers[0].pk).update(stock=10)  # changed after the batch's plan
    requeued = newest.requeue_raced(
        allegro.pk,
        offers,
        "prices_stock",
        batches={
            offers[0].pk: {"stock": 1},  # older than the offer now
            offers[1].pk: {"stock": offers[1].stock},  # the offer as it is
            offers[2].pk: {"price": str(offers[2].price), "currency": "PLN"},
        },
    )
    assert requeued == 1
    assert [(r.offer_id, r.group) for r in pending(allegro)] == [(offers[0].pk, "stock")]


def test_a_feed_that_carried_older_content_is_followed_by_the_newest(make_integration):
    """An Amazon feed carries the content planned (its hashes, as the engine keeps them): a
    name changed after the plan makes content go again, photos unchanged stay as they are."""
    from offers import newest
    from offers.models import Offer

    shop = make_integration()
    offers = make_offers(shop, 2)
    planned = {
        o.pk: {
            "content_hash": o.content_hash(),
            "photos_hash": o.photos_hash(),
            "price": str(o.price),
            "currency": o.currency,
            "stock": o.stock,
        }
        for o in offers
    }
    Offer.objects.filter(pk=offers[0].pk).update(name="Renamed after the plan")
    assert newest.requeue_raced(shop.pk, offers, "all", batches=planned) == 1
    assert [(r.offer_id, r.group) for r in pending(shop)] == [(offers[0].pk, "content")]
    # A prices-and-stock run never re-queues content, whatever its batches carried.
    Offer.objects.filter(pk=offers[1].pk).update(name="Renamed too")
    assert newest.requeue_raced(shop.pk, [offers[1]], "prices_stock", batches=planned) == 0
