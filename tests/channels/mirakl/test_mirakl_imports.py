"""Mirakl's offers and products by imports through the engine's asynchronous batches, against
the sandbox over HTTP (sandbox/README.md "Mirakl")."""

import pytest

from integrations.models import ChannelBatch, ResyncFailure
from integrations.services.runs import start_resync
from offers.models import SiteJournal
from tests.catalogue import make_offers
from tests.mirakl_fixtures import form_fields, frequencies_kept, held, mirakl_integration, seed
from tests.run_steps import drain

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages")]

OFFERS = 12


@pytest.fixture
def mirakl(sandbox, sandbox_account, settings):
    integration = mirakl_integration(sandbox, sandbox_account, settings)
    make_offers(integration, OFFERS, photos=2)
    return integration


def test_a_resync_creates_the_offers_and_products_by_one_import_each(
    sandbox, sandbox_account, mirakl
):
    run = drain(start_resync(mirakl, source="cli"))

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    rows = ChannelBatch.objects.filter(run=run).order_by("pk")
    assert [(b.operation, b.status, len(b.offers)) for b in rows] == [
        ("mirakl:offers", "done", OFFERS),
        ("mirakl:products", "done", OFFERS),
    ]
    offers = held(sandbox, sandbox_account)
    for row in SiteJournal.objects.filter(integration=mirakl).select_related("offer"):
        offer = offers[str(1000 + int(row.offer.sku[1:]))]
        assert offer["price"] == f"{row.offer.price:.2f}"
        assert offer["quantity"] == row.offer.stock
        assert offer["description"] == row.offer.description
    state = sandbox.state("mirakl", sandbox_account)
    assert state["product_count"] == OFFERS
    calls = frequencies_kept(sandbox, sandbox_account)
    assert calls["OF01"] == 1 and calls["P41"] == 1
    assert not ResyncFailure.objects.filter(run=run).exists()


def key(offer) -> str:
    return str(1000 + int(offer.sku[1:]))


def offer_imports(sandbox, account) -> list[dict]:
    imports = sandbox.state("mirakl", account)["imports"].values()
    return [i for i in imports if i["kind"] == "offers"]


def test_an_all_resync_leaves_every_field_xsale_does_not_send_as_it_was(
    sandbox, sandbox_account, mirakl
):
    """OF24's trap: a field not sent is reset (quantity to 0, the rest deleted). xSale sends
    OF01 files, whose NORMAL mode leaves the columns not in the file alone."""
    seed(
        sandbox,
        sandbox_account,
        [
            {
                "sku": "1001",
                "price": "5.00",
                "quantity": 3,
                "internal_description": "Magazyn B, regał 4",
                "leadtime_to_ship": 5,
                "discount_price": "4.50",
            }
        ],
    )
    run = drain(start_resync(mirakl, source="cli"))

    assert run.sent == OFFERS
    offer = held(sandbox, sandbox_account)["1001"]
    assert offer["internal_description"] == "Magazyn B, regał 4"
    assert offer["leadtime_to_ship"] == 5
    assert offer["discount_price"] == "4.50"
    assert offer["price"] == "1.99" and offer["quantity"] == 1  # what xSale sent
    assert "OF24" not in frequencies_kept(sandbox, sandbox_account)
    assert {i["mode"] for i in offer_imports(sandbox, sandbox_account)} == {"NORMAL"}


def test_offers_xsale_does_not_have_stay_in_the_shop(sandbox, sandbox_account, mirakl):
    """REPLACE's trap: every offer not in the file is deleted. xSale never sends REPLACE."""
    seed(sandbox, sandbox_account, [{"sku": "OTHER-1", "price": "9.00", "quantity": 2}])

    drain(start_resync(mirakl, source="cli"))
    drain(start_resync(mirakl, source="cli", data_types="prices_stock"))

    assert held(sandbox, sandbox_account)["OTHER-1"]["quantity"] == 2
    assert sandbox.state("mirakl", sandbox_account)["deleted_count"] == 0
    assert "REPLACE" not in {i["mode"] for i in offer_imports(sandbox, sandbox_account)}


def test_prices_and_stock_change_only_price_and_quantity_and_keep_the_discount(
    sandbox, sandbox_account, mirakl
):
    """PRI01's trap: every price of an offer not in the file is deleted (its discount). xSale
    sends the price and quantity by an OF01 PARTIAL_UPDATE file instead: only non-empty cells
    change."""
    drain(start_resync(mirakl, source="cli"))
    seed(
        sandbox,
        sandbox_account,
        [
            {
                "sku": "1002",
                "price": "50.00",
                "quantity": 9,
                "description": "<p>Opis oferty 2</p>",
                "discount_price": "40.00",
                "leadtime_to_ship": 2,
            }
        ],
    )
    from offers.models import Offer

    Offer.objects.filter(sku="T000002").update(price="77.70", stock=6)

    run = drain(start_resync(mirakl, source="cli", data_types="prices_stock"))

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    offer = held(sandbox, sandbox_account)["1002"]
    assert (offer["price"], offer["quantity"]) == ("77.70", 6)
    assert offer["discount_price"] == "40.00" and offer["leadtime_to_ship"] == 2
    assert offer["description"] == "<p>Opis oferty 2</p>"
    rows = ChannelBatch.objects.filter(run=run)
    assert [b.operation for b in rows] == ["mirakl:offers"]  # no product import
    last = offer_imports(sandbox, sandbox_account)[-1]
    assert last["mode"] == "PARTIAL_UPDATE"
    calls = frequencies_kept(sandbox, sandbox_account)
    assert "PRI01" not in calls and "OF24" not in calls


def test_refused_lines_fail_their_offers_with_mirakls_message(sandbox, sandbox_account, mirakl):
    sandbox.configure(
        "mirakl",
        sandbox_account,
        refuse_skus={"1004": "Cena poniżej ceny minimalnej operatora."},
        refuse_rules=[
            {
                "field": "title",
                "pattern": "testowa 7$",
                "message": "Produkt odrzucony: zdjęcie nie spełnia wymagań.",
                "imports": ["products"],
            }
        ],
    )
    run = drain(start_resync(mirakl, source="cli"))

    assert (run.sent, run.failed) == (OFFERS - 2, 2)
    failures = {
        f.offer.sku: (f.code, f.message)
        for f in ResyncFailure.objects.filter(run=run).select_related("offer")
    }
    assert failures == {
        "T000004": ("OF03", "Cena poniżej ceny minimalnej operatora."),
        "T000007": ("P44", "Produkt odrzucony: zdjęcie nie spełnia wymagań."),
    }
    frequencies_kept(sandbox, sandbox_account)


def test_a_product_file_the_operator_cannot_read_fails_with_its_format_error(
    sandbox, sandbox_account, mirakl
):
    mirakl.channel_settings = {"product_category": ""}
    mirakl.save()

    run = drain(start_resync(mirakl, source="cli"))

    messages = set(ResyncFailure.objects.filter(run=run).values_list("code", "message"))
    assert messages == {("P47", "The attribute 'category' is required.")}
    assert run.failed == OFFERS


def test_photos_go_as_public_urls_only_when_the_photo_set_changed(sandbox, sandbox_account, mirakl):
    first = drain(start_resync(mirakl, source="cli"))
    again = drain(start_resync(mirakl, source="cli"))

    [with_images] = ChannelBatch.objects.filter(run=first, operation="mirakl:products")
    assert with_images.changes["images"] is True
    assert len(with_images.changes["photos_sent"]) == OFFERS
    [without] = ChannelBatch.objects.filter(run=again, operation="mirakl:products")
    assert without.changes["images"] is False and without.changes["photos_sent"] == {}
    assert again.sent == OFFERS
    state = sandbox.state("mirakl", sandbox_account)
    imports = state["product_imports"]
    assert len(imports) == 2
    product = state["products"]["1003"]
    assert "image-1" not in product  # the second file carried no image column
    frequencies_kept(sandbox, sandbox_account)


def test_the_first_file_carried_each_photo_as_a_url_on_the_site(sandbox, sandbox_account, mirakl):
    drain(start_resync(mirakl, source="cli"))

    product = sandbox.state("mirakl", sandbox_account)["products"]["1003"]
    assert product["image-1"].startswith("https://xsale.example.pl/media/")
    assert product["image-2"].startswith("https://xsale.example.pl/media/")
    assert product["image-3"] == ""
    assert (product["title"], product["category"]) == ("Oferta testowa 3", "kubki")
    assert product["Kolor"] == "czerwony"


def test_a_lost_answer_is_found_in_the_imports_list_and_never_sent_twice(
    sandbox, sandbox_account, mirakl
):
    sandbox.configure("mirakl", sandbox_account, lose_next_answers={"OF01": 1, "P41": 1})

    run = drain(start_resync(mirakl, source="cli"))

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    state = sandbox.state("mirakl", sandbox_account)
    assert len(offer_imports(sandbox, sandbox_account)) == 1
    assert state["product_import_count"] == 1
    rows = ChannelBatch.objects.filter(run=run)
    assert all(b.changes.get("import_found") for b in rows)
    calls = frequencies_kept(sandbox, sandbox_account)
    assert calls["OF04"] >= 1 and calls["P51"] >= 1


def test_an_import_mirakl_never_registered_is_sent_again_once(
    sandbox, sandbox_account, mirakl, monkeypatch
):
    from integrations.saleschannels.mirakl import imports

    monkeypatch.setattr(imports, "IN_FLIGHT_SECONDS", 0)
    drain(start_resync(mirakl, source="cli"))
    sandbox.configure("mirakl", sandbox_account, fail_next_calls={"OF01": 1})

    run = drain(start_resync(mirakl, source="cli", data_types="prices_stock"))

    failures = list(ResyncFailure.objects.filter(run=run).values_list("code", "message"))
    assert (run.status, run.sent, failures[:1]) == ("completed", OFFERS, [])
    assert len(offer_imports(sandbox, sandbox_account)) == 2  # the first run's and this one
    frequencies_kept(sandbox, sandbox_account)


def test_a_batch_carries_its_file_as_planned_and_drops_it_once_mirakl_registers_it(
    sandbox, sandbox_account, mirakl, monkeypatch
):
    """The file is made from the offers as the chunk read them (the batch's payload), not
    from the offers as they are when it goes: a price changed after planning is not sent."""
    from integrations.engine import batches
    from offers.models import Offer

    planned = {}
    prepared = batches.prepared

    def plan_then_change(run, plans, group, chunk):
        rows = prepared(run, plans, group, chunk)
        for offer in Offer.objects.all():
            planned[offer.sku] = offer.price
        Offer.objects.update(price=999)  # after the batches were planned
        return rows

    drain(start_resync(mirakl, source="cli"))  # the shop's offers exist (PARTIAL_UPDATE)
    monkeypatch.setattr(batches, "prepared", plan_then_change)
    run = drain(start_resync(mirakl, source="cli", data_types="prices_stock"))

    assert (run.status, run.sent) == ("completed", OFFERS)
    [batch] = ChannelBatch.objects.filter(run=run)
    assert "payload" not in batch.changes and batch.changes["import_id"]
    offers = held(sandbox, sandbox_account)
    for sku, price in planned.items():
        assert offers[str(1000 + int(sku[1:]))]["price"] == f"{price:.2f}"
    assert len(offer_imports(sandbox, sandbox_account)) == 2  # the first run's and this one


def test_many_imports_keep_every_call_frequency(sandbox, sandbox_account, mirakl, monkeypatch):
    """Four chunks of three offers: four offer imports and four product imports, each call type
    paced by its own budget; the sandbox counts no call over its frequency."""
    import dataclasses

    from integrations import channels

    small = dataclasses.replace(channels.CHANNEL_FACTS["mirakl"], batch_chunk_size=3)
    monkeypatch.setitem(channels.CHANNEL_FACTS, "mirakl", small)

    run = drain(start_resync(mirakl, source="cli"))

    assert (run.status, run.sent) == ("completed", OFFERS)
    calls = frequencies_kept(sandbox, sandbox_account)
    assert calls["OF01"] == 4 and calls["P41"] == 4


# The published OF01 CSV header (seller API offers/of01; docs/channels/mirakl.md).
OF01_COLUMNS = {
    "sku", "product-id", "product-id-type", "description", "internal-description", "price",
    "price-additional-info", "quantity", "min-quantity-alert", "state", "available-start-date",
    "available-end-date", "discount-price", "discount-start-date", "discount-end-date",
    "discount-ranges", "allow-quote-requests", "leadtime-to-ship", "min-order-quantity",
    "max-order-quantity", "package-quantity", "update-delete", "price-ranges", "ecotax",
    "gift-wrap", "min-quantity-ordered",
}  # fmt: skip


def test_every_file_carries_only_published_columns_and_modes_with_the_raw_key(
    sandbox, sandbox_account, mirakl, wire
):
    drain(start_resync(mirakl, source="cli"))
    drain(start_resync(mirakl, source="cli", data_types="prices_stock"))

    imports = wire.matching("POST", "/api/offers/imports")
    assert len(imports) == 2
    for sent, (mode, header) in zip(
        imports,
        [
            ("NORMAL", "sku;product-id;product-id-type;description;price;quantity;state"),
            ("PARTIAL_UPDATE", "sku;price;quantity"),
        ],
        strict=True,
    ):
        fields = form_fields(sent.body, sent.headers["Content-Type"])
        assert fields["import_mode"].decode() == mode
        first = fields["file"].decode().splitlines()[0]
        assert first.replace('"', "") == header
        assert set(header.split(";")) <= OF01_COLUMNS
    for sent in wire.sent:
        if "/_files/" not in sent.url:
            assert sent.headers["Authorization"] == "sandbox-shop-key"  # raw, no "Bearer"
        assert "sandbox-shop-key" not in sent.url


def test_the_estimate_counts_product_imports_for_content_and_offer_imports_for_prices(
    sandbox, sandbox_account, settings
):
    """At the published frequencies (no CHANNEL_LIMITS): 50,000 offers are 3 chunks; content
    goes by at most two product imports a chunk (P41: one per 15 minutes), prices and stock by
    one offer import a chunk (OF01: one a minute), each then processed."""
    from integrations.services.estimates import resync_estimate

    integration = mirakl_integration(sandbox, sandbox_account, settings)
    settings.CHANNEL_LIMITS = {}
    settings.MIRAKL_IMPORT_PROCESSING_SECONDS = 100

    everything = resync_estimate(integration, 50_000)
    prices = resync_estimate(integration, 50_000, data_types="prices_stock")

    assert everything.seconds >= 5 * 900 + 3 * 100
    assert "P41" in str(everything.binding)
    assert prices.seconds == 2 * 60 + 3 * 100
    assert "OF01" in str(prices.binding)


def test_two_offers_on_one_listing_send_the_first_and_fail_the_second(
    sandbox, sandbox_account, mirakl
):
    from offers.models import OfferChannel

    OfferChannel.objects.filter(integration=mirakl, offer__sku="T000002").update(external_id="1001")

    run = drain(start_resync(mirakl, source="cli"))

    [failure] = ResyncFailure.objects.filter(run=run).select_related("offer")
    assert (failure.offer.sku, failure.code) == ("T000002", "duplicate_listing")
    first = mirakl.offer_links.get(offer__sku="T000001").offer_id
    assert f"(id {first})" in failure.message and "(1001)" in failure.message
    assert run.sent == OFFERS - 1
    frequencies_kept(sandbox, sandbox_account)
