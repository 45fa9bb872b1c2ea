"""The sync process spreads a batch channel's rounds over its request budget: WooCommerce's shop
takes 60 requests a minute, so one batch a second carries what that second brought — instead of
a request per change until the minute's 60 are spent and the rest of the minute's changes wait
for the next one (bench/README.md, "Everyday sync under load")."""

import threading
import time

import pytest

from integrations import shopconnect
from integrations.sync.process import SyncProcess
from tests.catalogue import make_offers, sandbox_integration
from tests.sync_fixtures import pending

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_batch_channel_spaces_its_sends_by_its_request_budget(sandbox, sandbox_account):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    assert shopconnect.adapter_for(woo).changes_spacing() == pytest.approx(1.05)
    woo.requests_per_minute = 120  # the seller's own limit for the shop
    woo.save()
    assert shopconnect.adapter_for(woo).changes_spacing() == pytest.approx(0.525)
    allegro = sandbox_integration(sandbox, f"{sandbox_account}a", "allegro")
    assert shopconnect.adapter_for(allegro).changes_spacing() == 0  # a PATCH per offer


def test_changes_coming_faster_than_the_shop_takes_requests_go_in_a_batch_a_second(
    sandbox, sandbox_account, change_offers, wire
):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    offers = make_offers(woo, 12)
    process = SyncProcess(poll_seconds=0.05)
    runner = threading.Thread(target=process.run)
    runner.start()
    try:
        started = time.monotonic()
        for n, offer in enumerate(offers):  # a change every 0.25 s for 3 s
            change_offers([offer], stock=100 + n)
            time.sleep(max(0.0, started + 0.25 * (n + 1) - time.monotonic()))
        deadline = time.monotonic() + 15
        while pending(woo) and time.monotonic() < deadline:
            time.sleep(0.1)
        took = time.monotonic() - started
    finally:
        process.stop()
        runner.join(30)
    assert pending(woo) == []
    batches = wire.matching("POST", "/products/batch")
    # At most one batch per 1.05 s (and the first at once), never a request per change.
    assert len(batches) <= took / 1.05 + 1, (len(batches), took)
    gaps = [b.started - a.started for a, b in zip(batches, batches[1:], strict=False)]
    assert min(gaps) >= 1.0, gaps
    held = sandbox.state("woocommerce", sandbox_account)["offers"]
    assert {held[str(1000 + n)]["stock_quantity"] for n in range(1, 13)} == set(range(100, 112))
