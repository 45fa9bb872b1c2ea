"""Many runs on a real resync cluster, killed with kill -9 while Allegro carries out commands
(issues 17 and 18): every run completes on a new cluster, every offer reaches its channel once,
and no command is registered twice."""

from collections import Counter
from decimal import Decimal

import pytest

from integrations.models import ChannelBatch, ResyncRun
from integrations.services.runs import start_resync
from offers.models import Offer, OfferChannel
from tests.catalogue import make_offers, sandbox_integration
from tests.workers import WorkerProcess, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SHOPS, SHOP_OFFERS, ALLEGRO_OFFERS = 4, 200, 300


def test_a_cluster_killed_mid_run_repeats_no_offer_and_no_command(
    resync_worker, sandbox, sandbox_account, tmp_path
):
    shops = []
    for n in range(SHOPS):
        shop = sandbox_integration(sandbox, f"{sandbox_account}w{n}", "woocommerce")
        make_offers(shop, SHOP_OFFERS, photos=0, prefix=f"W{n}-")
        shops.append(shop)
    account = f"{sandbox_account}a"
    # Long enough that commands are still being carried out when the shops are done.
    sandbox.configure("allegro", account, command_delay_seconds=10)
    allegro = sandbox_integration(sandbox, account, "allegro")
    offers = make_offers(allegro, ALLEGRO_OFFERS, photos=0, prefix="A-")
    for n in range(10):  # prices repeat, as a catalogue's do: ten groups share a command each
        Offer.objects.filter(pk__in=[o.pk for o in offers[n::10]]).update(
            price=Decimal(n) + Decimal("9.99")
        )
    resync_worker.wait_until_running()

    # Started together, the way the admin's bulk action starts them.
    runs = [start_resync(shop, source="admin") for shop in shops]
    prices = start_resync(allegro, source="admin", data_types="prices_stock")

    def registered():
        return sandbox.state("allegro", account)["command_count"]

    def shops_done():
        return not ResyncRun.objects.filter(pk__in=[r.pk for r in runs]).active().exists()

    def chunk_recorded():  # its PATCHes answered (its commands go on after it, and before)
        return ResyncRun.objects.get(pk=prices.pk).cursor > 0

    wait_for(
        lambda: registered() and shops_done() and chunk_recorded(),
        timeout=40,
        message="commands registered",
    )
    resync_worker.kill()
    killed = ResyncRun.objects.get(pk=prices.pk)
    assert killed.is_active, "the Allegro run ended before the kill"
    assert ChannelBatch.objects.filter(run=prices, status__in=["prepared", "submitted"]).exists()

    restarted = WorkerProcess("resync", tmp_path / "restarted.log").start()
    try:
        wait_for(
            lambda: not ResyncRun.objects.filter(pk=prices.pk).active().exists(),
            timeout=45,
            message=f"the runs to end\n{restarted.output()[-2000:]}",
        )
    finally:
        restarted.stop()

    for run in [*runs, prices]:
        run.refresh_from_db()
        assert (run.status, run.sent, run.failed, run.awaiting) == (
            "completed",
            run.total,
            0,
            0,
        ), run.error
    for n in range(SHOPS):
        held = sandbox.state("woocommerce", f"{sandbox_account}w{n}")["offers"]
        assert len(held) == SHOP_OFFERS
        assert {product["edits"] for product in held.values()} == {1}  # each sent once

    state = sandbox.state("allegro", account)
    commands = state["counters"]["commands"]
    patches = state["counters"]["by_endpoint"].get("PATCH /sale/product-offers/{offerId}", 0)
    by_command = commands["price"]["offers"]
    # Each offer once: by PATCH, or by a price and a quantity command; nothing twice.
    assert patches > 0 and by_command > 0
    assert patches + by_command == ALLEGRO_OFFERS
    assert commands["quantity"]["offers"] == by_command
    assert state["command_count"] == ChannelBatch.objects.filter(run=prices).count()
    assert commands["price"]["invalid"] == commands["quantity"]["invalid"] == 0
    held = state["offers"]
    assert len(held) == ALLEGRO_OFFERS
    for link in OfferChannel.objects.filter(integration=allegro).select_related("offer"):
        listing = held[link.external_id]
        assert Decimal(listing["sellingMode"]["price"]["amount"]) == link.offer.price
        assert listing["stock"]["available"] == link.offer.stock
    # A PATCH is one edit, a price and a quantity command two: no listing changed more often.
    assert Counter(listing["edits"] for listing in held.values()) == {1: patches, 2: by_command}
