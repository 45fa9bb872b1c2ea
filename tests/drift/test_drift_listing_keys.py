"""The listing an offer is, by each channel's own rule — the same for a send, a drift check's
comparison, its unknown listings and the fix of its drift (ChannelAdapter.listing_key).

Allegro: the offer id (external ID, a number); WooCommerce: the product id (external ID, a
positive number); Amazon: the seller SKU — the external ID, else our SKU (the README's
default); Zalando: the EAN, whatever the external ID (it has no read path: its check is
refused with a note). Each against the sandbox, with and without external IDs.
"""

import pytest
from django.utils import translation

from integrations.models import DriftItem, ResyncFailure
from integrations.services import drift
from integrations.services.runs import ResyncError
from offers.models import Offer, OfferChannel
from tests.amazon_models import amazon_integration
from tests.catalogue import make_offers, sandbox_integration
from tests.drift_fixtures import checked as check
from tests.drift_fixtures import drift_channel as drift_sandbox
from tests.run_steps import drain
from tests.run_steps import resynced as resync

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_step_per_task(settings):
    settings.RESYNC_TASK_SECONDS = 0


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def items(run, kind, field=None) -> set[str]:
    found = DriftItem.objects.filter(check_run=run, kind=kind)
    return {i.external_id for i in found if field is None or field in i.fields}


def changed(answer, field) -> set[str]:
    return {str(change["id"]) for change in answer["changes"][field]}


def without_external_ids(integration, offers=None) -> None:
    links = OfferChannel.objects.filter(integration=integration)
    if offers is not None:
        links = links.filter(offer__in=offers)
    links.update(external_id="")


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


# --- Amazon: the seller SKU, the external ID else our SKU ---------------------------------------


def test_amazon_without_external_ids_finds_its_listings_by_our_sku(
    amazon, sandbox, sandbox_account
):
    offers = make_offers(amazon, 20, photos=0)
    without_external_ids(amazon)
    assert resync(amazon).sent == 20
    assert set(sandbox.state("amazon", sandbox_account)["offers"]) == {o.sku for o in offers}
    answer = drift_sandbox(
        sandbox, "amazon", sandbox_account, price_share=0.2, stock_share=0.1, remove=2,
        add_unknown=3, seed=5,
    )  # fmt: skip

    run = check(amazon)

    assert (run.status, run.failed, run.error) == ("completed", 0, "")
    drifted = set().union(*(changed(answer, f) for f in answer["changes"]))
    assert drifted and items(run, "differs") == drifted
    assert items(run, "differs", "price") == changed(answer, "price")
    assert items(run, "missing") == {str(i) for i in answer["removed"]}
    assert items(run, "unknown") == {str(i) for i in answer["added"]}
    assert (run.report["missing"], run.report["unknown"]) == (2, 3)

    # "Only what differs" sends exactly those offers, to the same listings; then nothing differs.
    fix = drain(drift.start_fix(run, user=None, source="cli"))
    assert (fix.status, fix.total, fix.failed) == ("completed", len(drifted), 0)
    again = check(amazon)
    assert items(again, "differs") == set()
    assert items(again, "unknown") == {str(i) for i in answer["added"]}


def test_amazon_with_external_ids_compares_the_listing_they_name(amazon, sandbox, sandbox_account):
    offers = make_offers(amazon, 6, photos=0)
    assert resync(amazon).sent == 6
    listed = set(sandbox.state("amazon", sandbox_account)["offers"])
    assert listed == {link.external_id for link in OfferChannel.objects.filter(integration=amazon)}
    # An offer whose external ID is cleared now names our SKU, a listing Amazon does not have.
    without_external_ids(amazon, offers[:1])

    run = check(amazon)

    assert run.status == "completed"
    assert items(run, "differs") == set()
    assert items(run, "missing") == {offers[0].sku}
    assert items(run, "unknown") == {"1001"}  # the listing no offer names any more


# --- Allegro and WooCommerce: the external ID, a number ----------------------------------------


@pytest.mark.parametrize("channel", ["allegro", "woocommerce"])
def test_an_offer_without_its_listing_id_is_not_compared_and_its_listing_is_unknown(
    sandbox, sandbox_account, channel
):
    integration = sandbox_integration(sandbox, sandbox_account, channel)
    offers = make_offers(integration, 8, photos=0)
    assert resync(integration).sent == 8
    answer = drift_sandbox(sandbox, channel, sandbox_account, price_share=0.5, seed=11)
    without_external_ids(integration, offers[:2])
    OfferChannel.objects.filter(offer=offers[2]).update(external_id="not-a-number")

    run = check(integration)

    assert run.status == "completed"
    # The rule of a send: those three offers name no listing; the check says why, as a send would.
    failures = {f.offer_id: f for f in ResyncFailure.objects.filter(run=run)}
    assert set(failures) == {o.pk for o in offers[:3]}
    assert {f.code for f in failures.values()} == {"missing_external_id", "invalid_external_id"}
    assert "(external ID)" in failures[offers[0].pk].message
    assert "not-a-number" in failures[offers[2].pk].message
    assert items(run, "missing") == set()  # not "deleted on the channel": not linked
    # Their listings are there, and no offer names them.
    assert items(run, "unknown") == {"1001", "1002", "1003"}
    kept = {str(1000 + n) for n in range(4, 9)}
    assert items(run, "differs") == changed(answer, "price") & kept
    # The same rule sends: the resync fails those offers with the same reasons.
    again = resync(integration)
    refused = dict(ResyncFailure.objects.filter(run=again).values_list("offer_id", "message"))
    assert refused == {pk: f.message for pk, f in failures.items()}


@pytest.mark.parametrize("channel", ["allegro", "woocommerce"])
def test_with_external_ids_every_listing_is_found_and_none_unknown(
    sandbox, sandbox_account, channel
):
    integration = sandbox_integration(sandbox, sandbox_account, channel)
    make_offers(integration, 6, photos=0)
    assert resync(integration).sent == 6

    run = check(integration)

    assert (run.status, run.failed) == ("completed", 0)
    assert items(run, "missing") == items(run, "unknown") == items(run, "differs") == set()


def test_a_woocommerce_product_id_is_found_as_the_shop_writes_it(sandbox, sandbox_account):
    """The external ID "0004" sends to product 4: the check compares product 4 with it."""
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    offers = make_offers(shop, 3, photos=0)
    assert resync(shop).sent == 3
    OfferChannel.objects.filter(offer=offers[0]).update(external_id="01001")

    run = check(shop)

    assert (run.status, run.failed) == ("completed", 0)
    assert items(run, "missing") == items(run, "unknown") == items(run, "differs") == set()


# --- Zalando: the EAN ---------------------------------------------------------------------------


def test_zalando_sends_by_ean_with_or_without_external_ids_and_refuses_a_check(
    sandbox, sandbox_account
):
    zalando = sandbox_integration(sandbox, sandbox_account, "zalando")
    offers = make_offers(zalando, 4, photos=0)
    without_external_ids(zalando, offers[:2])
    Offer.objects.filter(pk=offers[3].pk).update(ean="")

    run = resync(zalando)

    assert (run.sent, run.failed) == (3, 1)
    failure = ResyncFailure.objects.get(run=run)
    assert (failure.offer_id, failure.code) == (offers[3].pk, "missing_ean")
    assert "EAN" in failure.message
    with pytest.raises(ResyncError, match="does not read offers back from Zalando"):
        drift.start_check(zalando, user=None, source="cli")
