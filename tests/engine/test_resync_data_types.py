"""A resync limited to chosen data: prices and stock only, content only, photos too."""

import pytest

from integrations.models import ResyncRun
from integrations.services.estimates import resync_estimate
from integrations.services.runs import start_resync
from offers.models import SiteJournal
from tests.catalogue import make_offers, sandbox_integration
from tests.run_steps import drain

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("one_chunk_per_task", "english_messages"),
]

CONTENT_FIELDS = {"name", "description", "parameters", "images", "external"}


def test_a_prices_and_stock_resync_sends_no_content_and_no_photos_to_allegro(
    sandbox, sandbox_account, wire
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 5, photos=1)

    run = drain(start_resync(allegro, source="cli", data_types="prices_stock"))

    assert (run.status, run.sent, run.photo_files_sent) == ("completed", 5, 0)
    # By PATCH (prices and stock only), or by Allegro's price and quantity commands (issue 18).
    patches = wire.matching("PATCH")
    commands = wire.matching("PUT", "-change-commands/")
    commanded = {o["id"] for c in commands for o in c.json()["offerCriteria"][0]["offers"]}
    assert len(patches) + len(commanded) == 5
    for patch in patches:
        assert set(patch.json()) == {"sellingMode", "stock"}
    for command in commands:
        assert set(command.json()) == {"modification", "offerCriteria"}
    assert wire.matching("POST", "/sale/images") == []  # no photo uploaded
    journal = SiteJournal.objects.filter(integration=allegro).first()
    assert journal.price_sent is not None and journal.content_hash == ""


def test_a_content_resync_sends_no_price_or_stock_and_photos_as_the_rule_says(
    sandbox, sandbox_account, wire
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 3, photos=1)

    run = drain(start_resync(allegro, source="cli", data_types="content"))

    assert (run.status, run.sent, run.photo_files_sent) == ("completed", 3, 3)
    for patch in wire.matching("PATCH"):
        body = patch.json()
        assert "sellingMode" not in body and "stock" not in body
        assert body["name"] and body["images"]  # Allegro always gets photo binaries


def test_a_prices_and_stock_resync_on_zalando_submits_no_product(sandbox, sandbox_account):
    zalando = sandbox_integration(sandbox, sandbox_account, "zalando")
    make_offers(zalando, 4, photos=1)

    run = drain(start_resync(zalando, source="cli", data_types="prices_stock"))

    assert (run.status, run.sent, run.failed) == ("completed", 4, 0)
    endpoints = sandbox.state("zalando", sandbox_account)["counters"]["by_endpoint"]
    assert not any("product-submissions" in name for name in endpoints)
    assert any(name.endswith("/prices") for name in endpoints)
    assert any(name.endswith("/stocks") for name in endpoints)


def test_photos_too_sends_woocommerce_photos_that_did_not_change(sandbox, sandbox_account, wire):
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(shop, 2, photos=1)
    drain(start_resync(shop, source="cli"))  # photos sent once, their hash journaled
    wire.sent.clear()

    drain(start_resync(shop, source="cli"))
    [batch] = wire.matching("POST", "/products/batch")
    assert all("images" not in update for update in batch.json()["update"])

    run = drain(start_resync(shop, source="cli", photos_too=True))
    batch = wire.matching("POST", "/products/batch")[-1]
    assert all(update["images"] for update in batch.json()["update"])
    assert run.photo_files_sent == 2


def test_the_estimate_reflects_what_is_sent(sandbox, sandbox_account):
    zalando = sandbox_integration(sandbox, sandbox_account, "zalando")
    everything = resync_estimate(zalando, 30_000).seconds
    prices_stock = resync_estimate(zalando, 30_000, data_types="prices_stock").seconds

    # Everything: submissions bind (25/s, 1,500 a minute); prices and stock: stock updates
    # (2,000 a minute).
    assert 20 * 60 < everything < 22 * 60
    assert 15 * 60 < prices_stock < 16 * 60
    assert ResyncRun.DataTypes.PRICES_STOCK == "prices_stock"
