"""The WooCommerce adapter against the sandbox over real HTTP."""

import base64

import pytest

from integrations.channels import Channel
from integrations.engine.store import adapter_for
from integrations.shopconnect.base import ChannelAuthError
from tests.allegro_openapi import by_offer, items_for, make_offer
from tests.catalogue import make_offers

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(make_integration, sandbox, sandbox_account):
    return make_integration(
        name=f"Sklep {sandbox_account}",
        channel=Channel.WOOCOMMERCE,
        requests_per_minute=6000,
        **sandbox.integration_urls("woocommerce", sandbox_account),
    )


def test_every_field_lands_with_woocommerces_types(shop, sandbox, sandbox_account, wire, settings):
    settings.SITE_URL = "https://xsale.example.pl"
    lamp = make_offer(
        shop,
        sku="LAMP-7",
        external_id="801",
        name="Lampka biurkowa LED",
        description="<p>Ciepłe światło</p>",
        price="89.50",
        stock=3,
        parameters=(("Moc", "7 W"), ("Kolor", "biały"), ("Kolor", "czarny")),
        photo_colors=((1, 100, 200), (200, 100, 1)),
    )
    sold_out = make_offer(shop, sku="MUG-0", external_id="802", stock=0)

    results = by_offer(adapter_for(shop).send(items_for(shop)))

    assert results[lamp.pk].ok and results[lamp.pk].photos_sent
    assert results[sold_out.pk].ok
    products = sandbox.state("woocommerce", sandbox_account)["offers"]
    held = products["801"]
    assert held["name"] == "Lampka biurkowa LED" and held["sku"] == "LAMP-7"
    assert held["description"] == "<p>Ciepłe światło</p>"
    assert held["regular_price"] == "89.50"
    assert held["manage_stock"] is True
    assert held["stock_quantity"] == 3 and held["stock_status"] == "instock"
    assert held["attributes"] == [
        {"name": "Moc", "position": 0, "visible": True, "variation": False, "options": ["7 W"]},
        {
            "name": "Kolor",
            "position": 1,
            "visible": True,
            "variation": False,
            "options": ["biały", "czarny"],
        },
    ]
    photos = list(lamp.photos.all())
    assert [image["src"] for image in held["images"]] == [
        f"https://xsale.example.pl/media/{photo.image.name}" for photo in photos
    ]
    assert [image["alt"] for image in held["images"]] == ["Lampka biurkowa LED"] * 2
    assert products["802"]["stock_quantity"] == 0
    assert products["802"]["stock_status"] == "outofstock"
    [batch] = wire.matching("POST", "/products/batch")
    assert [u["id"] for u in batch.json()["update"]] == [801, 802]  # ints, not strings
    # HTTP Basic in the header; nothing of the keys in the URL.
    assert (
        batch.headers["Authorization"]
        == "Basic " + base64.b64encode(b"ck_sandbox:cs_sandbox").decode()
    )
    assert "ck_sandbox" not in batch.url and "cs_sandbox" not in batch.url


def test_photos_go_only_when_the_engine_says_so(shop, sandbox, sandbox_account, wire):
    make_offer(shop, sku="NP-1", external_id="811", photo_colors=((5, 5, 5),))

    [result] = adapter_for(shop).send(items_for(shop, send_photos=False))

    assert result.ok and not result.photos_sent
    assert "images" not in wire.matching("POST")[0].json()["update"][0]
    assert "images" not in sandbox.state("woocommerce", sandbox_account)["offers"]["811"]


def test_250_offers_go_in_three_batches(shop, sandbox, sandbox_account, wire):
    make_offers(shop, 250, photos=0)

    results = adapter_for(shop).send(items_for(shop))

    assert len(results) == 250 and all(r.ok for r in results)
    sizes = sorted(len(r.json()["update"]) for r in wire.matching("POST", "/products/batch"))
    assert sizes == [50, 100, 100]
    counters = sandbox.state("woocommerce", sandbox_account)["counters"]
    assert counters["requests"] == 3
    assert len(sandbox.state("woocommerce", sandbox_account)["offers"]) == 250


def test_per_item_errors_fail_only_their_offers(shop, sandbox, sandbox_account):
    sandbox.configure(
        "woocommerce", sandbox_account, reject_name_pattern="(?i)zakazan", missing_ids=[823]
    )
    good = make_offer(shop, sku="OK-1", external_id="821")
    banned = make_offer(shop, sku="BAN-1", external_id="822", name="Towar zakazany")
    gone = make_offer(shop, sku="GONE-1", external_id="823")

    results = by_offer(adapter_for(shop).send(items_for(shop)))

    assert results[good.pk].ok
    assert results[banned.pk].code == "woocommerce_rest_invalid_product_name"
    assert results[banned.pk].message == "The product name is not allowed."
    assert results[banned.pk].http_status == 400
    assert results[gone.pk].code == "woocommerce_rest_product_invalid_id"


def test_a_listing_id_that_is_not_a_number_fails_without_a_request(shop, wire):
    words = make_offer(shop, sku="ID-1", external_id="lampka")
    zero = make_offer(shop, sku="ID-2", external_id="0")

    results = by_offer(adapter_for(shop).send(items_for(shop)))

    assert results[words.pk].code == results[zero.pk].code == "invalid_external_id"
    assert "lampka" in results[words.pk].message
    assert wire.sent == []


def test_server_errors_are_retried_until_the_batch_goes(shop, sandbox, sandbox_account):
    sandbox.configure("woocommerce", sandbox_account, fail_rate=0.5)
    make_offers(shop, 150, photos=0)

    results = adapter_for(shop).send(items_for(shop))

    assert all(r.ok for r in results)
    assert max(r.attempts for r in results) >= 2
    counters = sandbox.state("woocommerce", sandbox_account)["counters"]
    assert counters["errors_5xx"] >= 1
    assert len(sandbox.state("woocommerce", sandbox_account)["offers"]) == 150


def test_wrong_keys_stop_with_a_message_for_the_seller(shop):
    shop.credentials = {"consumer_key": "ck_wrong", "consumer_secret": "cs_wrong"}
    shop.save()
    make_offer(shop, sku="K-1", external_id="831")

    with pytest.raises(ChannelAuthError) as refused:
        adapter_for(shop).send(items_for(shop))

    assert "consumer key and secret" in str(refused.value)
    assert "cs_wrong" not in str(refused.value)
