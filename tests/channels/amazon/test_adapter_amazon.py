"""The Amazon adapter's Listings Items path, token, photos, budgets and drift check, against the
sandbox over real HTTP (sandbox/README.md "Amazon")."""

import time

import pytest
import requests
from django.utils import translation

from integrations.engine.runner import process_chunk
from integrations.engine.store import adapter_for
from integrations.models import ChannelBatch, DriftItem, ResyncRun
from integrations.services import drift
from integrations.services.runs import start_resync
from integrations.shopconnect.base import ChannelAuthError
from offers.models import OfferPhoto, SiteJournal
from offers.services import offer_channel_set_active
from tests.allegro_openapi import by_offer, items_for, make_offer
from tests.amazon_models import PL, amazon_integration, check_patches, validate_amazon_request
from tests.catalogue import make_offers
from tests.run_steps import drain  # what the resync cluster does

pytestmark = pytest.mark.django_db


@pytest.fixture
def amazon(sandbox, sandbox_account):
    sandbox.configure(
        "amazon",
        sandbox_account,
        feed_queue_seconds=0.1,
        feed_processing_seconds=0.2,
        report_processing_seconds=0.3,
    )
    return amazon_integration(sandbox, sandbox_account)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def one_step_per_task(settings):
    settings.RESYNC_TASK_SECONDS = 0


def held(sandbox, account) -> dict:
    return sandbox.state("amazon", account)["offers"]


def attributes_of(sandbox, account, sku) -> dict:
    return held(sandbox, account)[sku]["attributes"]


def test_every_attribute_lands_as_the_models_say(amazon, sandbox, sandbox_account, wire, settings):
    settings.SITE_URL = "https://xsale.example.pl"
    mug = make_offer(
        amazon,
        sku="MUG-1",
        external_id="AMZ-MUG-1",
        name="Kubek ceramiczny 350 ml",
        description="<p>Na kawę</p>",
        price="49.99",
        stock=7,
        parameters=(
            ("bullet_point", "Ceramika"),
            ("bullet_point", "Można myć w zmywarce"),
            ("Kolor", "biały"),
            ("amazon_product_type", "KITCHEN"),
        ),
        photo_colors=((1, 100, 200), (200, 100, 1)),
    )
    lamp = make_offer(amazon, sku="LAMP-1", description="", stock=0, parameters=())

    results = by_offer(adapter_for(amazon).send(items_for(amazon)))

    assert results[mug.pk].ok and results[mug.pk].photos_sent
    assert results[mug.pk].photo_files == 2
    assert results[lamp.pk].ok
    attributes = attributes_of(sandbox, sandbox_account, "AMZ-MUG-1")
    text = {"language_tag": "pl_PL", "marketplace_id": PL}
    assert attributes["item_name"] == [{"value": "Kubek ceramiczny 350 ml", **text}]
    assert attributes["product_description"] == [{"value": "<p>Na kawę</p>", **text}]
    assert attributes["bullet_point"] == [
        {"value": "Ceramika", **text},
        {"value": "Można myć w zmywarce", **text},
    ]
    assert attributes["purchasable_offer"] == [
        {"currency": "PLN", "our_price": [{"schedule": [{"value_with_tax": 49.99}]}],
         "marketplace_id": PL}
    ]  # fmt: skip
    assert attributes["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 7}
    ]
    photos = list(mug.photos.order_by("position"))
    assert attributes["main_product_image_locator"] == [
        {"media_location": f"https://xsale.example.pl/media/{photos[0].image.name}",
         "marketplace_id": PL}
    ]  # fmt: skip
    assert attributes["other_product_image_locator_1"][0]["media_location"].endswith(
        photos[1].image.name
    )
    assert held(sandbox, sandbox_account)["AMZ-MUG-1"]["productType"] == "KITCHEN"
    # The SKU falls back to ours; an empty description is left out (the listing keeps its own).
    lamp_attributes = attributes_of(sandbox, sandbox_account, "LAMP-1")
    assert "product_description" not in lamp_attributes
    assert held(sandbox, sandbox_account)["LAMP-1"]["productType"] == "HOME"
    patches = wire.matching("PATCH")
    assert len(patches) == 2
    for sent in wire.sent:
        validate_amazon_request(sent, amazon)
    assert "AMZ-MUG-1" in patches[0].url or "AMZ-MUG-1" in patches[1].url
    state = sandbox.state("amazon", sandbox_account)
    assert state["counters"]["limit_violations"] == 0


def test_photos_go_only_when_the_engine_says_so(amazon, sandbox, sandbox_account, wire):
    make_offer(amazon, sku="NP-1", photo_colors=((5, 5, 5),))

    [result] = adapter_for(amazon).send(items_for(amazon, send_photos=False))

    assert result.ok and not result.photos_sent
    names = check_patches(wire.matching("PATCH")[0].json()["patches"])
    assert not [n for n in names if "image" in n]
    assert "main_product_image_locator" not in attributes_of(sandbox, sandbox_account, "NP-1")


def test_a_prices_and_stock_resync_patches_only_offer_and_availability(
    amazon, sandbox, sandbox_account, wire
):
    make_offers(amazon, 6, photos=1)
    run = drain(start_resync(amazon, source="cli", data_types="prices_stock"))

    assert (run.status, run.sent, run.failed) == ("completed", 6, 0)
    for sent in wire.matching("PATCH"):
        names = check_patches(sent.json()["patches"])
        assert sorted(names) == ["fulfillment_availability", "purchasable_offer"]
        validate_amazon_request(sent, amazon)


def test_amazons_issues_fail_only_their_offer_with_its_code_and_message(
    amazon, sandbox, sandbox_account
):
    sandbox.configure(
        "amazon",
        sandbox_account,
        fail_skus={"BAD-1": {"code": "99022", "message": "Too few values for our_price."}},
        reject_name_pattern="(?i)zakazan",
    )
    good = make_offer(amazon, sku="OK-1")
    bad = make_offer(amazon, sku="BAD-1")
    banned = make_offer(amazon, sku="BAN-1", name="Towar zakazany")

    results = by_offer(adapter_for(amazon).send(items_for(amazon)))

    assert results[good.pk].ok
    assert (results[bad.pk].code, results[bad.pk].http_status) == ("99022", 200)
    assert results[bad.pk].message == "Too few values for our_price. (item_name)"
    assert results[banned.pk].code == "90000900"
    assert "not allowed" in results[banned.pk].message


def test_the_run_stays_within_5_patches_a_second(amazon, sandbox, sandbox_account):
    make_offers(amazon, 30, photos=0)
    started = time.monotonic()
    run = drain(start_resync(amazon, source="cli"))
    elapsed = time.monotonic() - started

    assert (run.status, run.sent) == ("completed", 30)
    counters = sandbox.state("amazon", sandbox_account)["counters"]
    assert counters["limit_violations"] == 0 and counters["throttled"] == 0
    assert counters["by_endpoint"]["PATCH /listings/2021-08-01/items/{seller_id}/{sku}"] == 30
    assert elapsed >= (30 - 5) / 5 * 0.9  # a burst of 5, then 5/s


def test_the_token_is_renewed_before_and_after_it_expires(amazon, sandbox, sandbox_account):
    sandbox.configure("amazon", sandbox_account, token_seconds=2)  # a minute margin: ~1 s
    make_offer(amazon, sku="T-1")
    adapter = adapter_for(amazon)
    assert adapter.send(items_for(amazon))[0].ok
    issued = sandbox.state("amazon", sandbox_account)["counters"]["tokens_issued"]
    time.sleep(1.1)
    assert adapter_for(amazon).send(items_for(amazon))[0].ok  # renewed before it expired
    sandbox.configure("amazon", sandbox_account, token_seconds=3600, expire_tokens=True)
    assert adapter_for(amazon).send(items_for(amazon))[0].ok  # 403 → renewed once → sent
    counters = sandbox.state("amazon", sandbox_account)["counters"]
    assert counters["tokens_issued"] == issued + 2
    assert counters["by_status"].get("403") == 1


def test_a_rotated_refresh_token_is_written_back(amazon, sandbox, sandbox_account):
    sandbox.configure("amazon", sandbox_account, rotate_refresh_tokens=True)
    make_offer(amazon, sku="R-1")

    assert adapter_for(amazon).send(items_for(amazon))[0].ok

    amazon.refresh_from_db()
    assert amazon.credentials["refresh_token"].startswith("Atzr|sbx-")
    assert amazon.credentials["client_secret"] == "sandbox-secret"
    assert "access_token" not in amazon.credentials  # an hour's token is not stored


def test_refused_credentials_stop_with_a_message_for_the_seller(amazon):
    amazon.credentials = {**amazon.credentials, "client_secret": "wrong-secret"}
    amazon.save()
    make_offer(amazon, sku="K-1")

    with pytest.raises(ChannelAuthError) as refused:
        adapter_for(amazon).send(items_for(amazon))

    assert "invalid_client" in str(refused.value)
    assert "wrong-secret" not in str(refused.value)


# --- photos across runs (docs/architecture.md, product rules 2 and 3)
# -----------------------------------------


def test_photo_locators_go_only_when_the_photo_set_changed_across_three_runs(
    amazon, sandbox, sandbox_account, wire, settings
):
    settings.SITE_URL = "https://xsale.example.pl"
    offers = make_offers(amazon, 3, photos=1)

    def images_sent():
        sent = {}
        for request in wire.matching("PATCH"):
            sku = request.url.split("?")[0].rsplit("/", 1)[1]
            names = check_patches(request.json()["patches"])
            sent[sku] = "main_product_image_locator" in names
        wire.sent.clear()
        return sent

    first = drain(start_resync(amazon, source="cli"))
    assert (first.sent, first.photos_sent) == (3, 3)
    assert images_sent() == {"1001": True, "1002": True, "1003": True}

    second = drain(start_resync(amazon, source="cli"))
    assert (second.sent, second.photos_sent) == (3, 0)
    assert images_sent() == {"1001": False, "1002": False, "1003": False}

    # A new photo on the first offer; the channel deactivated and re-activated on the third.
    photo = offers[0].photos.first()
    OfferPhoto.objects.create(offer=offers[0], image=photo.image.name, sha256="0" * 64, position=1)
    offer_channel_set_active(offer=offers[2], integration=amazon, active=False)
    offer_channel_set_active(offer=offers[2], integration=amazon, active=True)
    third = drain(start_resync(amazon, source="cli"))
    assert (third.sent, third.photos_sent) == (3, 2)
    assert images_sent() == {"1001": True, "1002": False, "1003": True}
    assert "other_product_image_locator_1" in attributes_of(sandbox, sandbox_account, "1001")
    assert SiteJournal.objects.get(offer=offers[0], integration=amazon).photos_hash == (
        offers[0].photos_hash()
    )


# --- drift check -------------------------------------------------------------------------------


def drift_sandbox(sandbox, account, **shares) -> dict:
    response = requests.post(
        f"{sandbox.url}/_sandbox/amazon/{account}/drift", json=shares, timeout=10
    )
    response.raise_for_status()
    return response.json()


def check(integration, **kwargs) -> ResyncRun:
    return drain(drift.start_check(integration, user=None, source="cli", **kwargs))


def items(run, kind, field=None) -> set[str]:
    found = DriftItem.objects.filter(check_run=run, kind=kind)
    return {i.external_id for i in found if field is None or field in i.fields}


def changed(answer, field) -> set[str]:
    return {str(change["id"]) for change in answer["changes"][field]}


def test_the_check_finds_exactly_the_drift_amazon_reports(amazon, sandbox, sandbox_account, wire):
    make_offers(amazon, 30, photos=0)
    assert drain(start_resync(amazon, source="cli")).sent == 30
    answer = drift_sandbox(
        sandbox,
        sandbox_account,
        price_share=0.1,
        name_share=0.1,
        stock_share=0.1,
        description_share=0.1,
        remove=2,
        add_unknown=3,
        seed=7,
    )
    wire.sent.clear()

    run = check(amazon)

    assert (run.status, run.failed, run.error) == ("completed", 0, "")
    for field in ("price", "name", "stock", "description"):
        assert items(run, "differs", field) == changed(answer, field), field
    drifted = set().union(*(changed(answer, f) for f in answer["changes"]))
    assert items(run, "differs") == drifted
    assert items(run, "missing") == {str(i) for i in answer["removed"]}
    assert items(run, "unknown") == {str(i) for i in answer["added"]}
    reports = wire.matching("POST", "/reports/2021-06-30/reports")
    assert len(reports) == 1  # one report, remembered across the check's tasks
    reads = wire.matching("GET", "/listings/2021-08-01/items/")
    assert len(reads) == 30 - 2  # name and description per SKU; removed ones read as gone
    for sent in wire.sent:
        validate_amazon_request(sent, amazon)
    assert sandbox.state("amazon", sandbox_account)["counters"]["limit_violations"] == 0

    # "Resync only what differs" puts them right; a new check finds nothing.
    fix = drain(drift.start_fix(run, user=None, source="cli"))
    assert fix.status == "completed"
    again = check(amazon)
    assert items(again, "differs") == set()
    assert len(wire.matching("POST", "/reports/2021-06-30/reports")) == 2  # a fresh report


def test_a_prices_and_stock_check_reads_only_the_report(amazon, sandbox, sandbox_account, wire):
    make_offers(amazon, 20, photos=0)
    drain(start_resync(amazon, source="cli"))
    answer = drift_sandbox(sandbox, sandbox_account, price_share=0.2, seed=3)
    wire.sent.clear()

    run = check(amazon, data_types="prices_stock")

    assert items(run, "differs", "price") == changed(answer, "price")
    assert not wire.matching("GET", "/listings/2021-08-01/items/")


def test_a_check_pauses_holding_no_worker_while_amazon_makes_the_report(
    amazon, sandbox, sandbox_account
):
    make_offers(amazon, 5, photos=0)
    drain(start_resync(amazon, source="cli"))
    sandbox.configure("amazon", sandbox_account, report_processing_seconds=8)
    run = drift.start_check(amazon, user=None, source="cli")
    process_chunk(run.pk, run.cursor)
    run.refresh_from_db()
    assert run.status == "paused"
    assert "listings report" in run.pause_reason
    run = drain(run)
    assert run.status == "completed" and run.report["differs"] == 0
    by_endpoint = sandbox.state("amazon", sandbox_account)["counters"]["by_endpoint"]
    assert by_endpoint["POST /reports/2021-06-30/reports"] == 1


def test_the_estimate_knows_patches_below_the_threshold_and_feeds_above(amazon, settings):
    from integrations.services.estimates import resync_estimate

    small = resync_estimate(amazon, 300)
    assert small.seconds == pytest.approx(300 / 5, rel=0.1)
    assert "Listings Items" in small.binding
    settings.AMAZON_FEED_PROCESSING_SECONDS = 300
    # Prices and stock: small messages, 5 feeds of 10,000 — within 5 feeds a 5 minutes.
    prices = resync_estimate(amazon, 50_000, data_types="prices_stock")
    assert prices.seconds == 300 and "processing" in prices.binding
    # Everything: about 2 KB a message, so 10 feeds under 10 MiB (as the bench measured):
    # the second five wait out the window.
    big = resync_estimate(amazon, 50_000)
    assert big.seconds == 300 + 300
    assert "listings feeds" in big.binding
    assert not ChannelBatch.objects.exists()
