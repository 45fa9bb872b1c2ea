"""The drift check and resyncs limited to what differs or to chosen data, against the sandbox.

Each test resyncs first (so the sandbox holds the listings as we send them), drifts them with
the sandbox's `/drift` (which answers exactly which listing changed which field), then checks
and compares the report with that answer.
"""

import pytest
import requests
from django.utils import translation

from integrations.engine.runner import process_chunk
from integrations.models import DriftItem, DriftListing, ResyncFailure, ResyncRun
from integrations.services import drift
from integrations.services.runs import ResyncError, cancel_resync, start_resync
from offers.models import OfferChannel, SiteJournal
from tests.allegro_openapi import allegro_openapi, validate_allegro_request
from tests.catalogue import make_offers, sandbox_integration
from tests.drift_fixtures import checked as check
from tests.drift_fixtures import drift_channel as drift_sandbox
from tests.run_steps import drain
from tests.run_steps import resynced as resync

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_chunk_per_task(settings):
    settings.RESYNC_TASK_SECONDS = 0


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def valid_for_allegro(sent, integration) -> None:
    """Allegro's spec validates the request where the spec is at hand (not in a worktree)."""
    if allegro_openapi() is not None:
        validate_allegro_request(sent, integration)


def offer_of_listing(integration) -> dict:
    return dict(
        OfferChannel.objects.filter(integration=integration).values_list("external_id", "offer_id")
    )


def items(run, kind, field=None) -> set[str]:
    found = DriftItem.objects.filter(check_run=run, kind=kind)
    if field:
        found = [i for i in found if field in i.fields]
    return {i.external_id for i in found}


def changed(answer, field) -> set[str]:
    return {str(change["id"]) for change in answer["changes"][field]}


@pytest.mark.parametrize("channel", ["allegro", "woocommerce"])
def test_the_check_finds_exactly_the_drift_the_channel_reports(sandbox, sandbox_account, channel):
    integration = sandbox_integration(sandbox, sandbox_account, channel)
    make_offers(integration, 300)
    assert resync(integration).sent == 300
    answer = drift_sandbox(
        sandbox,
        channel,
        sandbox_account,
        price_share=0.03,
        name_share=0.01,
        stock_share=0.02,
        description_share=0.01,
        remove=2,
        add_unknown=3,
        seed=7,
    )
    run = check(integration)
    assert (run.status, run.failed, run.error) == ("completed", 0, "")
    for field in ("price", "name", "stock", "description"):
        assert items(run, "differs", field) == changed(answer, field), field
    drifted = set().union(*(changed(answer, f) for f in answer["changes"]))
    assert items(run, "differs") == drifted
    assert items(run, "missing") == {str(i) for i in answer["removed"]}
    assert items(run, "unknown") == {str(i) for i in answer["added"]}
    report = run.report
    assert report["fields"] == {
        f: len(answer["changes"][f]) for f in ("price", "name", "stock", "description")
    }
    assert (report["differs"], report["missing"], report["unknown"]) == (
        len(drifted),
        2,
        3,
    )
    # Honest progress: every listing read (298 left + 3 added) and every offer compared.
    assert report["listings"] == 301
    assert run.total == run.processed == 301 + 300


def test_a_difference_shows_both_values_and_when_we_last_sent_the_offer(sandbox, sandbox_account):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 40)
    resync(allegro)
    answer = drift_sandbox(sandbox, "allegro", sandbox_account, price_share=0.05, seed=3)
    run = check(allegro)
    change = answer["changes"]["price"][0]
    item = DriftItem.objects.get(check_run=run, external_id=change["id"])
    assert item.fields == {"price": {"ours": change["before"], "theirs": change["after"]}}
    assert item.offer_id == offer_of_listing(allegro)[change["id"]]
    journal = SiteJournal.objects.get(offer_id=item.offer_id, integration=allegro)
    assert item.last_sent_at == journal.synced_at


def test_allegro_checks_prices_and_stock_from_the_offer_list_alone(sandbox, sandbox_account, wire):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 1200)
    # The listings as a resync would have left them, without 1,200 PATCHes.
    requests.post(
        f"{sandbox.url}/_sandbox/allegro/{sandbox_account}/seed",
        json={
            "offers": [
                {
                    "id": str(1000 + n),
                    "name": f"Oferta testowa {n}",
                    "price": f"{n % 500}.99",
                    "stock": n % 17,
                    "external_id": f"T{n:06d}",
                }
                for n in range(1, 1201)
            ]
        },
        timeout=30,
    ).raise_for_status()
    answer = drift_sandbox(
        sandbox, "allegro", sandbox_account, price_share=0.01, description_share=0.5, seed=1
    )
    run = check(allegro, data_types="prices_stock")
    assert run.status == "completed"
    assert items(run, "differs") == changed(answer, "price")  # descriptions are not compared
    assert run.report["compared"] == ["price", "currency", "stock"]
    reads = wire.matching("GET", "/sale/")
    assert len(reads) == 2  # two pages of 1,000: no offer read on its own
    for sent in reads:
        assert "/sale/offers?" in sent.url and "limit=1000" in sent.url
        valid_for_allegro(sent, allegro)


def test_allegro_reads_whole_offers_only_to_compare_content(sandbox, sandbox_account, wire):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 30)
    resync(allegro)
    drift_sandbox(sandbox, "allegro", sandbox_account, description_share=0.1, seed=2)
    run = check(allegro, data_types="content")
    assert run.report["full_reads"] is True and "price" not in run.report["compared"]
    full = wire.matching("GET", "/sale/product-offers/")
    assert len(full) == 30
    valid_for_allegro(full[0], allegro)
    counters = sandbox.state("allegro", sandbox_account)["counters"]["by_endpoint"]
    assert counters["GET /sale/product-offers/{offerId}"] == 30
    assert len(items(run, "differs", "description")) == 3


def test_resync_only_what_differs_sends_exactly_those(sandbox, sandbox_account, wire):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 200)
    resync(allegro)
    answer = drift_sandbox(
        sandbox, "allegro", sandbox_account, price_share=0.03, name_share=0.01, remove=2, seed=5
    )
    found = check(allegro)
    drifted = changed(answer, "price") | changed(answer, "name")
    wire.sent.clear()
    fix = drain(drift.start_fix(found, user=None, source="cli"))
    assert fix.differing_of == found and fix.data_types == "all"
    patched = {r.url.rsplit("/", 1)[1] for r in wire.matching("PATCH", "/sale/product-offers/")}
    removed = {str(i) for i in answer["removed"]}
    # Listings missing on the channel are left out (issue 20.5): a PATCH cannot bring a deleted
    # Allegro offer back. They used to be sent and fail with 404.
    assert patched == drifted and not patched & removed
    assert (fix.total, fix.sent, fix.failed) == (len(drifted), len(drifted), 0)
    assert not ResyncFailure.objects.filter(run=fix).exists()
    again = check(allegro)
    assert again.report["differs"] == 0 and again.report["missing"] == 2


def test_a_fix_of_prices_alone_sends_prices_and_stock_only(sandbox, sandbox_account, wire):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 120)
    resync(woo)
    answer = drift_sandbox(sandbox, "woocommerce", sandbox_account, price_share=0.05, seed=9)
    found = check(woo)
    assert drift.suggested_data_types(found) == "prices_stock"
    wire.sent.clear()
    fix = drain(drift.start_fix(found, user=None, source="cli"))
    assert (fix.data_types, fix.sent) == ("prices_stock", 6)
    (batch,) = wire.matching("POST", "/products/batch")
    updates = batch.json()["update"]
    assert {str(u["id"]) for u in updates} == changed(answer, "price")
    assert all(
        set(u) == {"id", "regular_price", "manage_stock", "stock_quantity", "stock_status"}
        for u in updates
    )
    assert check(woo).report["differs"] == 0


def test_a_prices_and_stock_resync_sends_no_content_and_no_photos(sandbox, sandbox_account, wire):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(allegro, 5, photos=2)
    make_offers(woo, 5, photos=2, prefix="W")
    for integration in (allegro, woo):
        run = resync(integration, data_types="prices_stock")
        assert (run.sent, run.photos_sent, run.photo_files_sent) == (5, 0, 0)
    # Allegro: by PATCH (prices and stock only) or by price and quantity commands (issue 18).
    patches = wire.matching("PATCH")
    commands = wire.matching("PUT", "-change-commands/")
    commanded = {o["id"] for c in commands for o in c.json()["offerCriteria"][0]["offers"]}
    assert len(patches) + len(commanded) == 5 and not wire.matching("POST", "/sale/images")
    for sent in patches:
        assert set(sent.json()) == {"sellingMode", "stock"}
        valid_for_allegro(sent, allegro)
    for sent in commands:
        assert set(sent.json()) == {"modification", "offerCriteria"}
        valid_for_allegro(sent, allegro)
    (batch,) = wire.matching("POST", "/products/batch")
    for update in batch.json()["update"]:
        assert not {"name", "description", "attributes", "images", "sku"} & set(update)


def test_a_prices_and_stock_resync_sends_zalando_no_submission(sandbox, sandbox_account, wire):
    zalando = sandbox_integration(sandbox, sandbox_account, "zalando")
    make_offers(zalando, 4)
    run = resync(zalando, data_types="prices_stock")
    assert (run.status, run.sent, run.failed) == ("completed", 4, 0)
    assert not wire.matching("POST", "/product-submissions")
    assert len(wire.matching("POST", "/prices")) == 1
    assert len(wire.matching("POST", "/stocks")) == 1


def test_a_content_resync_sends_no_prices_or_stock(sandbox, sandbox_account, wire):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 3)
    resync(allegro, data_types="content")
    for sent in wire.matching("PATCH"):
        body = sent.json()
        assert "sellingMode" not in body and "stock" not in body and body["name"]


def test_photos_too_sends_woocommerce_photos_that_did_not_change(sandbox, sandbox_account):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 4)
    assert resync(woo).photos_sent == 4
    assert resync(woo).photos_sent == 0
    assert resync(woo, photos_too=True).photos_sent == 4


def test_zalando_cannot_be_checked_and_the_check_is_refused_before_a_run(
    sandbox, sandbox_account, wire
):
    # Issue 20.2: an empty check run would become Zalando's last result; it is refused instead.
    zalando = sandbox_integration(sandbox, sandbox_account, "zalando")
    make_offers(zalando, 3)
    with pytest.raises(ResyncError, match="does not read offers back from Zalando"):
        drift.start_check(zalando, user=None, source="cli")
    assert not ResyncRun.objects.exists() and not wire.sent


def test_a_check_waits_for_the_read_budget_and_says_which(
    sandbox, sandbox_account, settings, monkeypatch
):
    from integrations.shopconnect import http

    monkeypatch.setattr(http, "MAX_BUDGET_WAIT", 0.5)
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 30)
    settings.CHANNEL_LIMITS = {}
    resync(allegro)
    settings.CHANNEL_LIMITS = {"allegro": {"reads": [[10, 60]]}}
    run = drift.start_check(allegro, user=None, source="cli")
    for _ in range(5):
        run.refresh_from_db()
        if run.status == "paused":
            break
        process_chunk(run.pk, run.cursor)
    assert run.status == "paused"
    assert "Allegro's limit of offer reads per seller" in run.pause_reason
    assert 0 < run.processed < run.total


def test_a_check_is_cancelled_at_its_next_step_and_blocks_a_second_run(sandbox, sandbox_account):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 250)
    resync(woo)
    run = drift.start_check(woo, user=None, source="v2")
    process_chunk(run.pk, 0)
    with pytest.raises(ResyncError):
        start_resync(woo, user=None, source="v2")
    assert cancel_resync(run) is True
    run = drain(run)
    assert run.status == "cancelled" and DriftListing.objects.filter(check_run=run).count() == 100


def test_a_fix_needs_a_completed_check_with_differences(sandbox, sandbox_account):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 5)
    resync(woo)
    clean = check(woo)
    with pytest.raises(ResyncError, match="no offer"):
        drift.start_fix(clean, user=None, source="cli")
    with pytest.raises(ResyncError, match="drift check"):
        drift.start_fix(ResyncRun.objects.filter(kind="resync").first(), user=None, source="cli")
