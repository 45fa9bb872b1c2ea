"""The Zalando adapter against the sandbox over real HTTP."""

import base64
import hashlib

import pytest

from integrations.channels import Channel
from integrations.engine.store import adapter_for
from integrations.shopconnect.base import ChannelAuthError
from tests.allegro_openapi import by_offer, items_for, make_offer
from tests.catalogue import make_offers

pytestmark = pytest.mark.django_db

SALES_CHANNEL = "01924c48-49bb-40c2-9c32-ab582e6db6f4"
# Faster than Zalando allows, to keep tests short: submissions, prices and tokens (8/min would
# make a second token wait 8 s); stock requests keep Zalando's 60 a minute (the sandbox checks
# it), only the update budgets grow past the test's size.
FAST = {
    "submissions": [[1000, 1]],
    "price_requests": [[600, 60]],
    "price_updates": [[100_000, 60]],
    "stock_requests": [[60, 60]],
    "stock_updates": [[100_000, 60]],
    "tokens": [[120, 60]],
}


@pytest.fixture
def fast(settings):
    settings.CHANNEL_LIMITS = {"zalando": FAST}


@pytest.fixture
def zalando(make_integration, sandbox, sandbox_account, fast):
    return make_integration(
        name=f"Zalando {sandbox_account}",
        channel=Channel.ZALANDO,
        requests_per_minute=60_000,
        **sandbox.integration_urls("zalando", sandbox_account),
    )


def test_every_field_lands_with_zalandos_types(zalando, sandbox, sandbox_account, wire):
    shirt = make_offer(
        zalando,
        sku="SHIRT-1",
        ean="5901234123457",
        name="Koszulka bawełniana",
        description="<p>Miękka</p>",
        price="59.95",
        currency="EUR",
        stock=7,
        parameters=(("Rozmiar", "M"), ("Kolor", "biały"), ("Kolor", "szary")),
        photo_colors=((200, 0, 0), (0, 0, 200)),
    )

    [result] = adapter_for(zalando).send(items_for(zalando))

    assert result.ok and result.photos_sent and result.offer_id == shirt.pk
    held = sandbox.state("zalando", sandbox_account)["offers"]["5901234123457"]
    assert held["merchant_id"] == "demo-merchant"
    assert held["merchant_product_model_id"] == "SHIRT-1"
    assert held["name"] == "Koszulka bawełniana" and held["description"] == "<p>Miękka</p>"
    assert held["product_config_attributes"] == {"Rozmiar": "M", "Kolor": ["biały", "szary"]}
    assert held["product_simple_attributes"] == {"ean": "5901234123457"}
    photos = list(shirt.photos.all())
    assert [m["sha256"] for m in held["media"]] == [p.sha256 for p in photos]
    assert [m["media_sort_key"] for m in held["media"]] == [1, 2]
    assert held["prices"][SALES_CHANNEL]["regular_price"] == {"amount": 59.95, "currency": "EUR"}
    assert held["stocks"][SALES_CHANNEL] == 7
    # The binaries went inline, base64: decode what was sent and compare with the photo files.
    submission = wire.matching("POST", "/product-submissions")[0].json()
    media = submission["product_model"]["product_configs"][0]["media"]
    sent = [hashlib.sha256(base64.b64decode(m["content_base64"])).hexdigest() for m in media]
    assert sent == [p.sha256 for p in photos]


def test_an_offer_without_a_valid_ean_fails_clearly_without_a_request(zalando, wire):
    none = make_offer(zalando, sku="N-1", ean="")
    short = make_offer(zalando, sku="N-2", ean="123")

    results = by_offer(adapter_for(zalando).send(items_for(zalando)))

    assert results[none.pk].code == results[short.pk].code == "missing_ean"
    assert "no EAN" in results[none.pk].message
    assert "123" in results[short.pk].message
    assert not wire.matching(contains="/merchants/")


def test_a_refused_product_fails_alone_and_gets_no_price_or_stock(
    zalando, sandbox, sandbox_account, wire
):
    sandbox.configure("zalando", sandbox_account, reject_name_pattern="(?i)replika")
    good = make_offer(zalando, sku="OK-1", ean="5901234123464")
    bad = make_offer(zalando, sku="BAD-1", ean="5901234123471", name="Replika torebki")

    results = by_offer(adapter_for(zalando).send(items_for(zalando)))

    assert results[good.pk].ok
    failure = results[bad.pk]
    assert not failure.ok and failure.http_status == 400
    assert failure.code == "rejected"
    assert "not allowed" in failure.message
    priced = [
        i["ean"] for r in wire.matching("POST", "/prices") for i in r.json()["product_prices"]
    ]
    assert priced == ["5901234123464"]


def test_rejected_bulk_items_map_back_to_their_offers(zalando, sandbox, sandbox_account):
    sandbox.configure("zalando", sandbox_account, missing_ids=["5901234123488"])
    known = make_offer(zalando, sku="K-1", ean="5901234123495")
    unknown = make_offer(zalando, sku="U-1", ean="5901234123488")

    results = by_offer(adapter_for(zalando).send(items_for(zalando)))

    assert results[known.pk].ok
    failure = results[unknown.pk]
    assert not failure.ok and failure.code == "1"
    assert "Unknown EAN 5901234123488" in failure.message
    assert failure.message.startswith("Price: ")  # prices answer first; stocks refuse too


def test_an_invalid_item_does_not_sink_the_whole_batch(zalando, sandbox, sandbox_account, wire):
    sandbox.configure("zalando", sandbox_account, limits={"prices_per_minute": None})
    free = make_offer(zalando, sku="FREE-1", ean="5901234123501", price="0.00")
    paid = make_offer(zalando, sku="PAID-1", ean="5901234123518", price="10.00")

    results = by_offer(adapter_for(zalando).send(items_for(zalando)))

    assert results[paid.pk].ok
    assert not results[free.pk].ok and "positive number" in results[free.pk].message
    price_requests = [len(r.json()["product_prices"]) for r in wire.matching("POST", "/prices")]
    assert price_requests == [2, 1]  # refused as a whole, sent again without the bad item
    held = sandbox.state("zalando", sandbox_account)["offers"]
    assert held["5901234123518"]["prices"][SALES_CHANNEL]["regular_price"]["amount"] == 10.0


def test_prices_and_stocks_go_in_batches_of_a_thousand(zalando, sandbox, sandbox_account, wire):
    sandbox.configure(
        "zalando",
        sandbox_account,
        limits={
            "submissions_per_second": None,
            "prices_per_minute": None,
            "stock_updates_per_minute": None,
        },
    )
    make_offers(zalando, 1500, photos=0)

    results = adapter_for(zalando).send(items_for(zalando))

    assert len(results) == 1500 and all(r.ok for r in results)
    stocks = wire.matching("POST", "/stocks")
    assert sorted(len(r.json()["items"]) for r in stocks) == [500, 1000]
    prices = wire.matching("POST", "/prices")
    assert sorted(len(r.json()["product_prices"]) for r in prices) == [500, 1000]
    counters = sandbox.state("zalando", sandbox_account)["counters"]
    # Zalando's 60 stock requests a minute, counted by the sandbox: no limit was broken.
    assert counters["limit_violations"] == 0 and counters["throttled"] == 0


def test_the_token_is_cached_and_renewed_once_after_a_401(zalando, sandbox, sandbox_account):
    sandbox.configure("zalando", sandbox_account, limits={"prices_per_minute": None})
    make_offer(zalando, sku="T-1", ean="5901234123525")
    adapter_for(zalando).send(items_for(zalando))
    adapter_for(zalando).send(items_for(zalando))
    assert sandbox.state("zalando", sandbox_account)["counters"]["tokens_issued"] == 1

    sandbox.configure("zalando", sandbox_account, expire_tokens=True)
    results = adapter_for(zalando).send(items_for(zalando))

    assert all(r.ok for r in results)
    assert sandbox.state("zalando", sandbox_account)["counters"]["tokens_issued"] == 2


def test_wrong_client_credentials_stop_with_a_message_for_the_seller(zalando):
    zalando.credentials = {**zalando.credentials, "client_secret": "wrong-secret"}
    zalando.save()
    make_offer(zalando, sku="W-1", ean="5901234123532")

    with pytest.raises(ChannelAuthError) as refused:
        adapter_for(zalando).send(items_for(zalando))

    assert "Zalando refused the client ID and secret" in str(refused.value)
    assert "wrong-secret" not in str(refused.value)


def test_missing_credentials_are_named(zalando):
    zalando.credentials = {"client_id": "x", "client_secret": "y"}
    zalando.save()
    make_offer(zalando, sku="C-1", ean="5901234123549")

    with pytest.raises(ChannelAuthError, match="merchant_id, sales_channel_id"):
        adapter_for(zalando).send(items_for(zalando))
