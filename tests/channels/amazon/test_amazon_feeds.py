"""Amazon's JSON_LISTINGS_FEED through the engine's asynchronous batches, against the sandbox
over HTTP: ChannelBatch rows written before any request, feeds submitted once, processing
reports turned into each offer's outcome (sandbox/README.md "Amazon")."""

import time

import pytest

from integrations.engine import batches
from integrations.engine.runner import process_chunk
from integrations.engine.store import SUBMIT_SENT_AT
from integrations.models import ChannelBatch, ResyncFailure, ResyncRun
from integrations.services.runs import start_resync
from offers.models import OfferPhoto, SiteJournal
from offers.services import offer_channel_set_active
from tests.amazon_models import amazon_integration, check_feed_document, validate_amazon_request
from tests.catalogue import make_offers
from tests.run_steps import drain  # what the resync cluster does

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages", "handed_on")]

OFFERS = 20
CREATE_FEED = "POST /feeds/2021-06-30/feeds"


@pytest.fixture
def amazon(amazon_in_feeds):
    return amazon_in_feeds


def counters(sandbox, account) -> dict:
    return sandbox.state("amazon", account)["counters"]


def feeds_created(sandbox, account) -> int:
    state = counters(sandbox, account)
    assert state["throttled"] == 0  # every createFeed request made a feed
    return state["by_endpoint"].get(CREATE_FEED, 0)


def feed_messages(wire, integration) -> list[list[dict]]:
    """Every feed document uploaded, checked against listings-feed-schema-v2."""
    seller = integration.setting("seller_id")
    return [check_feed_document(r.body, seller, cap=8) for r in wire.matching("PUT", "/s3/feeds/")]


def test_a_large_run_goes_in_feeds_and_lands_when_amazon_reports(
    sandbox, sandbox_account, amazon, wire
):
    failing = {"1005": {"code": "99022", "message": "Too few values for our_price."}}
    sandbox.configure("amazon", sandbox_account, fail_skus=failing)

    run = drain(start_resync(amazon, source="cli"))

    assert (run.status, run.sent, run.failed, run.awaiting) == ("completed", OFFERS - 1, 1, 0)
    rows = ChannelBatch.objects.filter(run=run).order_by("pk")
    assert [len(b.offers) for b in rows] == [8, 8, 4]
    assert {(b.status, b.recorded, b.operation) for b in rows} == {
        ("done", True, "amazon:listings_feed")
    }
    assert all(b.changes["feed_id"] for b in rows)
    # The messages sent are dropped once Amazon registered the feed: later looks never read them.
    assert not any("payload" in b.changes for b in rows)
    assert feeds_created(sandbox, sandbox_account) == 3
    assert not wire.matching("PATCH")  # nothing by the Listings Items path
    messages = feed_messages(wire, amazon)
    assert [len(m) for m in messages] == [8, 8, 4]
    assert [m["messageId"] for m in messages[0]] == list(range(1, 9))
    for sent in wire.sent:
        validate_amazon_request(sent, amazon)
    [failure] = ResyncFailure.objects.filter(run=run)
    assert failure.offer.sku == "T000005"
    assert (failure.code, failure.message) == ("99022", "Too few values for our_price. (item_name)")
    held = sandbox.state("amazon", sandbox_account)["offers"]
    ok = SiteJournal.objects.filter(integration=amazon, status="ok").select_related("offer")
    assert ok.count() == OFFERS - 1
    for row in ok:
        attributes = held[str(1000 + int(row.offer.sku[1:]))]["attributes"]
        price = attributes["purchasable_offer"][0]["our_price"][0]["schedule"][0]
        assert price["value_with_tax"] == float(row.offer.price)
        assert attributes["fulfillment_availability"][0]["quantity"] == row.offer.stock
        assert attributes["main_product_image_locator"][0]["media_location"].startswith(
            "https://xsale.example.pl/media/"
        )
    assert counters(sandbox, sandbox_account)["limit_violations"] == 0


def test_a_message_that_breaks_the_schema_fails_only_its_offer(
    sandbox, sandbox_account, amazon, monkeypatch
):
    from integrations.saleschannels.amazon.adapter import AmazonAdapter

    real = AmazonAdapter.message

    def broken(self, snap, place):  # a mapping bug: one message loses productType
        message = real(self, snap, place)
        if snap.sku == "T000003":
            del message["productType"]
        return message

    monkeypatch.setattr(AmazonAdapter, "message", broken)
    run = drain(start_resync(amazon, source="cli"))

    [failure] = ResyncFailure.objects.filter(run=run)
    assert failure.offer.sku == "T000003" and failure.code == "4002008"
    assert "did not meet the schema validation requirements" in failure.message
    assert run.sent == OFFERS - 1


def test_a_prices_and_stock_run_patches_only_offer_and_availability(
    sandbox, sandbox_account, amazon, wire
):
    run = drain(start_resync(amazon, source="cli", data_types="prices_stock"))

    assert (run.status, run.sent) == ("completed", OFFERS)
    for messages in feed_messages(wire, amazon):
        for message in messages:
            paths = sorted(p["path"] for p in message["patches"])
            assert paths == [
                "/attributes/fulfillment_availability",
                "/attributes/purchasable_offer",
            ]


def test_a_fatal_feed_fails_its_offers_with_the_reason_and_loses_none(
    sandbox, sandbox_account, amazon
):
    sandbox.configure("amazon", sandbox_account, fatal_next_feeds=1)

    run = drain(start_resync(amazon, source="cli"))

    assert run.status == "completed" and run.awaiting == 0
    fatal = ResyncFailure.objects.filter(run=run, code="feed_fatal")
    first = ChannelBatch.objects.filter(run=run).order_by("pk").first()
    assert set(fatal.values_list("offer_id", flat=True)) == set(first.offers)
    assert "aborted" in fatal.first().message and "fatal_next_feeds" in fatal.first().message
    assert run.sent + run.failed == OFFERS and run.sent == OFFERS - len(first.offers)


def test_a_feed_still_in_progress_after_the_wait_fails_its_offers_with_a_reason(
    sandbox, sandbox_account, amazon, settings
):
    settings.RESYNC_BATCH_WAIT_SECONDS = 1
    sandbox.configure("amazon", sandbox_account, feeds_stay_in_progress=True)

    run = drain(start_resync(amazon, source="cli"))

    assert run.status == "completed" and run.awaiting == 0
    unconfirmed = ResyncFailure.objects.filter(run=run, code="not_confirmed")
    assert unconfirmed.count() == OFFERS
    assert "did not confirm" in unconfirmed.first().message
    assert not SiteJournal.objects.filter(integration=amazon, status="ok").exists()


def test_a_crash_between_create_feed_and_the_report_submits_no_second_feed(
    sandbox, sandbox_account, amazon, monkeypatch
):
    run = start_resync(amazon, source="cli")
    # The worker dies (kill -9) right after Amazon registered the feed, before the engine
    # marked the batch submitted.
    real = batches._update

    def die_after_submit(batch, **fields):
        if fields.get("status") == ChannelBatch.Status.SUBMITTED:
            raise KeyboardInterrupt("kill -9")
        return real(batch, **fields)

    monkeypatch.setattr(batches, "_update", die_after_submit)
    with pytest.raises(KeyboardInterrupt):
        for _ in range(5):
            process_chunk(run.pk, ResyncRun.objects.get(pk=run.pk).cursor)
    monkeypatch.setattr(batches, "_update", real)
    assert feeds_created(sandbox, sandbox_account) >= 1  # registered before the kill
    # The lease runs out; the sweeper hands the run to a new task.
    ResyncRun.objects.filter(pk=run.pk).update(lease_token="", lease_expires_at=None)
    run = drain(run)

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    assert feeds_created(sandbox, sandbox_account) == ChannelBatch.objects.filter(run=run).count()


def test_a_kill_while_a_feed_is_processing_resumes_and_submits_nothing_again(
    sandbox, sandbox_account, amazon, monkeypatch
):
    from integrations.saleschannels.amazon.adapter import AmazonAdapter

    sandbox.configure("amazon", sandbox_account, feed_processing_seconds=1.0)
    run = start_resync(amazon, source="cli")
    real = AmazonAdapter.read_batch

    def killed(self, batch):
        raise KeyboardInterrupt("kill -9 while the feed is processing")

    monkeypatch.setattr(AmazonAdapter, "read_batch", killed)
    with pytest.raises(KeyboardInterrupt):
        drain(run)
    monkeypatch.setattr(AmazonAdapter, "read_batch", real)
    submitted = feeds_created(sandbox, sandbox_account)
    assert submitted >= 1
    ResyncRun.objects.filter(pk=run.pk).update(lease_token="", lease_expires_at=None)
    run = drain(run)

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    assert feeds_created(sandbox, sandbox_account) == 3


@pytest.mark.serial
def test_a_shrunk_feed_limit_paces_the_feeds_with_no_limit_exceeded(
    sandbox, sandbox_account, amazon, settings
):
    # Two listings feeds per "5 minutes" of 0.6 s minutes = 3 s, on both sides.
    settings.CHANNEL_LIMITS = {"amazon": {"listings_feeds": [[2, 3]]}}
    sandbox.configure(
        "amazon",
        sandbox_account,
        minute_seconds=0.6,
        limits={"json_listings_feeds_per_5_minutes": 2},
    )
    started = time.monotonic()
    run = drain(start_resync(amazon, source="cli"))

    assert (run.status, run.sent) == ("completed", OFFERS)
    assert time.monotonic() - started >= 2.5  # the third feed waited for the window
    state = counters(sandbox, sandbox_account)
    assert state["limit_violations"] == 0 and state["throttled"] == 0
    assert feeds_created(sandbox, sandbox_account) == 3


def test_photo_locators_in_feeds_follow_the_site_journal_across_three_runs(
    sandbox, sandbox_account, amazon, wire, settings
):
    # One feed a run: three runs stay within 5 listings feeds per 5 minutes.
    settings.AMAZON_FEED_MAX_MESSAGES = OFFERS

    def with_images():
        seller = amazon.setting("seller_id")
        skus = {
            m["sku"]
            for r in wire.matching("PUT", "/s3/feeds/")
            for messages in [check_feed_document(r.body, seller)]
            for m in messages
            if any("image" in p["path"] for p in m["patches"])
        }
        wire.sent.clear()
        return skus

    first = drain(start_resync(amazon, source="cli"))
    assert (first.sent, first.photos_sent) == (OFFERS, OFFERS)
    assert len(with_images()) == OFFERS

    second = drain(start_resync(amazon, source="cli"))
    assert (second.sent, second.photos_sent) == (OFFERS, 0)
    assert with_images() == set()

    offers = list(amazon.offer_links.select_related("offer").order_by("offer_id"))
    changed, forced = offers[0].offer, offers[4].offer
    photo = changed.photos.first()
    OfferPhoto.objects.create(offer=changed, image=photo.image.name, sha256="1" * 64, position=1)
    offer_channel_set_active(offer=forced, integration=amazon, active=False)
    offer_channel_set_active(offer=forced, integration=amazon, active=True)
    third = drain(start_resync(amazon, source="cli"))
    assert (third.sent, third.photos_sent) == (OFFERS, 2)
    assert with_images() == {offers[0].external_id, offers[4].external_id}
    assert feeds_created(sandbox, sandbox_account) == 3
    assert counters(sandbox, sandbox_account)["limit_violations"] == 0


def test_a_spent_feed_budget_pauses_the_run_with_its_name_and_spends_nothing(
    sandbox, sandbox_account, amazon, settings
):
    settings.CHANNEL_LIMITS = {"amazon": {"listings_feeds": [[1, 600]]}}
    run = start_resync(amazon, source="cli")
    for _ in range(10):
        process_chunk(run.pk, ResyncRun.objects.get(pk=run.pk).cursor)
        run.refresh_from_db()
        if run.status == "paused" and "listings feeds" in run.pause_reason:
            break
    assert run.status == "paused"
    assert "Amazon's limit of listings feeds" in run.pause_reason
    by_endpoint = counters(sandbox, sandbox_account)["by_endpoint"]
    assert by_endpoint[CREATE_FEED] == 1
    assert by_endpoint["POST /feeds/2021-06-30/documents"] == 1  # no document for a held feed


# --- createFeed has no idempotency key: a lost answer is looked up, never sent again ------

GET_FEEDS = "GET /feeds/2021-06-30/feeds"


def feeds_registered(sandbox, account) -> int:
    return sandbox.state("amazon", account)["feed_count"]


def test_a_kill_between_amazons_202_and_saving_the_feed_id_finds_the_feed_and_sends_none_again(
    sandbox, sandbox_account, amazon, monkeypatch, wire
):
    run = start_resync(amazon, source="cli")
    real = batches.registered

    def killed(batch, answer):
        if "feed_id" in answer.keep:  # Amazon answered 202; the worker dies before keeping it
            raise KeyboardInterrupt("kill -9")
        return real(batch, answer)

    monkeypatch.setattr(batches, "registered", killed)
    with pytest.raises(KeyboardInterrupt):
        for _ in range(5):
            process_chunk(run.pk, ResyncRun.objects.get(pk=run.pk).cursor)
    monkeypatch.setattr(batches, "registered", real)
    lost = ChannelBatch.objects.filter(run=run).order_by("pk").first()
    assert "feed_id" not in lost.changes and lost.changes[SUBMIT_SENT_AT]
    assert feeds_registered(sandbox, sandbox_account) == 1  # Amazon has it; we do not know it
    ResyncRun.objects.filter(pk=run.pk).update(lease_token="", lease_expires_at=None)
    run = drain(run)

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    assert feeds_registered(sandbox, sandbox_account) == 3  # one a batch: none twice
    assert feeds_created(sandbox, sandbox_account) == 3
    lost.refresh_from_db()
    assert lost.changes["feed_found"] and lost.changes["feed_id"]
    assert counters(sandbox, sandbox_account)["by_endpoint"][GET_FEEDS] == 1
    for sent in wire.sent:
        validate_amazon_request(sent, amazon)


def test_a_createfeed_answer_lost_in_a_500_is_not_retried_and_the_feed_is_found(
    sandbox, sandbox_account, amazon
):
    # The second createFeed: Amazon's list then holds the first feed (a batch knows it) too.
    sandbox.configure("amazon", sandbox_account, create_feed_faults=[None, "lost"])

    run = drain(start_resync(amazon, source="cli"))

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    assert feeds_registered(sandbox, sandbox_account) == 3
    by_endpoint = counters(sandbox, sandbox_account)["by_endpoint"]
    assert by_endpoint[CREATE_FEED] == 3  # the 500 was not answered by sending it again
    assert by_endpoint[GET_FEEDS] == 1
    found = ChannelBatch.objects.filter(run=run, changes__feed_found=True)
    assert [b.pk for b in found] == [ChannelBatch.objects.filter(run=run).order_by("pk")[1].pk]


def test_a_createfeed_amazon_never_registered_is_sent_again_once_it_cannot_be_in_flight(
    sandbox, sandbox_account, amazon, settings
):
    settings.AMAZON_FEED_LOOKUP_AFTER_SECONDS = 1
    sandbox.configure("amazon", sandbox_account, create_feed_faults=["refused"])

    run = drain(start_resync(amazon, source="cli"))

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    assert feeds_registered(sandbox, sandbox_account) == 3
    by_endpoint = counters(sandbox, sandbox_account)["by_endpoint"]
    assert by_endpoint[CREATE_FEED] == 4  # the refused one, then again after the lookup
    assert by_endpoint[GET_FEEDS] == 1
    assert not ChannelBatch.objects.filter(run=run, changes__feed_found=True).exists()


def test_a_lost_feed_that_cannot_be_told_apart_is_refused_with_a_reason_not_sent_twice(
    sandbox, sandbox_account, amazon, settings
):
    # Another integration of the same seller loses a createFeed answer at the same moment:
    # two feeds nobody knows, two batches that may own them.
    other = amazon_integration(sandbox, sandbox_account, settings={"product_type": "HOME"})
    make_offers(other, OFFERS, photos=0, prefix="O")
    sandbox.configure("amazon", sandbox_account, create_feed_faults=["lost", "lost"])
    settings.AMAZON_FEED_MAX_MESSAGES = OFFERS  # one feed a run
    first = start_resync(amazon, source="cli")
    second = start_resync(other, source="cli")
    for run in (first, second):  # each sends its feed; both answers are lost
        for _ in range(5):
            if ChannelBatch.objects.filter(run=run, changes__has_key=SUBMIT_SENT_AT).exists():
                break
            process_chunk(run.pk, ResyncRun.objects.get(pk=run.pk).cursor)
    assert feeds_registered(sandbox, sandbox_account) == 2

    first, second = drain(first), drain(second)

    assert feeds_registered(sandbox, sandbox_account) == 2  # neither sent again
    for run in (first, second):
        assert (run.status, run.sent, run.failed) == ("completed", 0, OFFERS)
        failure = ResyncFailure.objects.filter(run=run).first()
        assert failure.code == "feed_unknown"
        assert "was not sent again, so that no change is made twice" in failure.message


def test_a_feed_sends_and_journals_the_offer_as_planned_not_as_it_is_when_submitted(
    sandbox, sandbox_account, amazon, monkeypatch, wire
):
    from decimal import Decimal

    from integrations.saleschannels.amazon.adapter import AmazonAdapter
    from offers.models import Offer

    first = Offer.objects.filter(channels__integration=amazon).order_by("pk").first()
    listing = first.channels.get(integration=amazon).external_id
    planned_price, planned_stock = first.price, first.stock
    real = AmazonAdapter.submit_batch

    def edited_meanwhile(self, batch):  # the seller edits the offer after it was planned
        Offer.objects.filter(pk=first.pk).update(price=Decimal("999.99"), stock=77)
        return real(self, batch)

    monkeypatch.setattr(AmazonAdapter, "submit_batch", edited_meanwhile)
    run = drain(start_resync(amazon, source="cli"))

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    [message] = [m for m in feed_messages(wire, amazon)[0] if m["sku"] == listing]
    by_path = {p["path"]: p["value"] for p in message["patches"]}
    price = by_path["/attributes/purchasable_offer"][0]["our_price"][0]["schedule"][0]
    assert price["value_with_tax"] == float(planned_price)
    assert by_path["/attributes/fulfillment_availability"][0]["quantity"] == planned_stock
    journal = SiteJournal.objects.get(integration=amazon, offer=first)
    assert (journal.price_sent, journal.stock_sent) == (planned_price, planned_stock)
    # A later resync sees the edit as not sent yet: the journal says what Amazon has.
    assert Offer.objects.get(pk=first.pk).price != journal.price_sent
