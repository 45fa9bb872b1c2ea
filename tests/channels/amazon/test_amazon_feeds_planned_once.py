"""Amazon feeds planned once and built once, and submitted as soon as the budget allows
(issue 28 item 2): each message is built one time, when its feed is planned; the document
uploaded is the one stored with the durable batch — by whichever process submits it; a
chunk's feeds go in its own step, and no report is read or recorded while feeds may still go.
Against the sandbox over HTTP."""

import dataclasses
from decimal import Decimal

import pytest

from integrations import channels
from integrations.engine.runner import process_chunk
from integrations.models import ChannelBatch, ResyncRun
from integrations.saleschannels.amazon import feeds
from integrations.saleschannels.amazon.adapter import AmazonAdapter
from integrations.services.runs import start_resync
from offers.models import Offer, SiteJournal
from tests.amazon_models import check_feed_document
from tests.run_steps import drain  # what the resync cluster does

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages", "handed_on")]

OFFERS = 20
CREATE_FEED = "POST /feeds/2021-06-30/feeds"


@pytest.fixture
def amazon(amazon_in_feeds):
    return amazon_in_feeds


def uploads(wire) -> list[bytes]:
    return [r.body for r in wire.matching("PUT", "/s3/feeds/")]


def stored_documents(monkeypatch) -> list[str]:
    """The document each batch holds in the database when it is submitted (first time)."""
    stored: dict[int, str] = {}
    real = AmazonAdapter.submit_batch

    def submit(self, batch):
        payload = ChannelBatch.objects.get(pk=batch.pk).changes.get("payload")
        stored.setdefault(batch.pk, payload)
        return real(self, batch)

    monkeypatch.setattr(AmazonAdapter, "submit_batch", submit)
    return stored


def test_each_message_is_built_once_and_the_upload_is_the_document_stored_at_planning(
    sandbox, sandbox_account, amazon, wire, monkeypatch
):
    built = []
    real_message = AmazonAdapter.message

    def message(self, snap, place):
        built.append(snap.offer_id)
        return real_message(self, snap, place)

    monkeypatch.setattr(AmazonAdapter, "message", message)
    stored = stored_documents(monkeypatch)

    run = drain(start_resync(amazon, source="cli"))

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    assert sorted(built) == sorted(Offer.objects.values_list("pk", flat=True))  # once each
    rows = list(ChannelBatch.objects.filter(run=run).order_by("pk"))
    assert [b.pk for b in rows] == sorted(stored)
    documents = [stored[b.pk] for b in rows]
    assert uploads(wire) == [document.encode("utf-8") for document in documents]
    seller = amazon.setting("seller_id")
    for row, body in zip(rows, uploads(wire), strict=True):
        messages = check_feed_document(body, seller, cap=8)
        assert [m["messageId"] for m in messages] == list(range(1, len(row.offers) + 1))
    # Amazon has the documents: the batches no longer carry them.
    assert not any(b.changes.get("payload") for b in rows)


def test_a_batch_submitted_again_after_a_kill_uploads_the_document_stored_at_planning(
    sandbox, sandbox_account, amazon, wire, monkeypatch
):
    run = start_resync(amazon, source="cli")
    real_submit = AmazonAdapter.submit_batch

    def killed(self, batch):  # the worker dies once the batches are written, before any upload
        raise KeyboardInterrupt("kill -9")

    monkeypatch.setattr(AmazonAdapter, "submit_batch", killed)
    with pytest.raises(KeyboardInterrupt):
        for _ in range(3):
            process_chunk(run.pk, ResyncRun.objects.get(pk=run.pk).cursor)
    monkeypatch.setattr(AmazonAdapter, "submit_batch", real_submit)
    rows = list(ChannelBatch.objects.filter(run=run).order_by("pk"))
    assert [len(b.offers) for b in rows] == [8, 8, 4] and not uploads(wire)
    planned = [b.changes["payload"] for b in rows]
    # Meanwhile the seller edits every offer, and a new process would build nothing again.
    Offer.objects.update(price=Decimal("999.99"))

    def never(self, snap, place):
        raise AssertionError("a message was built again for the upload")

    monkeypatch.setattr(AmazonAdapter, "message", never)
    ResyncRun.objects.filter(pk=run.pk).update(lease_token="", lease_expires_at=None)
    run = drain(run)

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    assert uploads(wire) == [document.encode("utf-8") for document in planned]
    prices = {
        p["value"][0]["our_price"][0]["schedule"][0]["value_with_tax"]
        for body in uploads(wire)
        for m in check_feed_document(body, amazon.setting("seller_id"), cap=8)
        for p in m["patches"]
        if p["path"] == "/attributes/purchasable_offer"
    }
    assert 999.99 not in prices


def test_five_feeds_go_before_any_report_is_read_or_recorded(
    sandbox, sandbox_account, amazon, settings, monkeypatch
):
    # Chunks of 8 offers, feeds of 4: 20 offers make 5 feeds from three chunks (2, 2, 1), all
    # within Amazon's burst of 5 listings feeds. Amazon answers at once and the reports are
    # due at once: reading them between two chunks would come before the next feeds.
    facts = dataclasses.replace(channels.CHANNEL_FACTS["amazon"], batch_chunk_size=8)
    monkeypatch.setattr(channels, "CHANNEL_FACTS", dict(channels.CHANNEL_FACTS, amazon=facts))
    settings.AMAZON_FEED_MAX_MESSAGES = 4
    monkeypatch.setattr(feeds, "FIRST_LOOK_SECONDS", 0.0)
    sandbox.configure("amazon", sandbox_account, feed_queue_seconds=0, feed_processing_seconds=0)
    reads = []
    real_read = AmazonAdapter.read_batch

    def read(self, batch):
        reads.append(ChannelBatch.objects.filter(status="submitted").count())
        return real_read(self, batch)

    monkeypatch.setattr(AmazonAdapter, "read_batch", read)

    run = drain(start_resync(amazon, source="cli"))

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    rows = ChannelBatch.objects.filter(run=run).order_by("pk")
    assert [len(b.offers) for b in rows] == [4, 4, 4, 4, 4]
    assert sandbox.state("amazon", sandbox_account)["counters"]["by_endpoint"][CREATE_FEED] == 5
    assert reads and reads[0] == 5  # the first report was read once all five feeds had gone
    last_submitted = max(b.submitted_at for b in rows)
    recorded = SiteJournal.objects.filter(integration=amazon).order_by("synced_at").first()
    assert last_submitted < recorded.synced_at
