"""Faults during a run, chunk by chunk in this process against the sandbox: every one ends as a
state a seller can read (paused until a time, failed with a reason, cancelled), in bounded
time, and nothing is re-sent in a loop."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.engine import recording, resync_chunk, skeleton
from integrations.engine.runner import process_chunk
from integrations.engine.skeleton import requeue_stale_runs
from integrations.models import ResyncFailure, ResyncRun
from integrations.presentation.run_figures import run_figures
from integrations.services import estimates
from integrations.services.runs import cancel_resync, start_resync
from integrations.shopconnect import http
from offers.models import Offer, OfferPhoto, SiteJournal
from offers.services import offer_channel_set_active
from tests.catalogue import make_offers, sandbox_integration
from tests.run_steps import drain

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("one_chunk_per_task", "english_messages"),
]


@pytest.fixture
def enqueued(monkeypatch):
    """What the engine and the sweeper hand to the queue (nothing runs by itself here)."""
    tasks = []
    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: tasks.append(cursor))
    return tasks


def wake(run):
    """The pause is over: what the sweeper does when paused_until has passed."""
    ResyncRun.objects.filter(pk=run.pk).update(paused_until=timezone.now() - timedelta(seconds=1))
    requeue_stale_runs()
    run.refresh_from_db()
    return run


def test_a_channel_that_hangs_fails_its_offers_then_pauses_then_fails_the_run(
    sandbox, sandbox_account, monkeypatch, chunk_size, enqueued
):
    monkeypatch.setattr(http, "READ_TIMEOUT", 0.3)
    sandbox.configure("woocommerce", sandbox_account, latency_ms=2_000)
    chunk_size("woocommerce", 2)
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce", requests_per_minute=6000)
    make_offers(shop, 40, photos=0)
    run = start_resync(shop, source="cli")

    started = time.monotonic()
    for _ in range(skeleton.SILENT_CHUNKS):
        process_chunk(run.pk, ResyncRun.objects.get(pk=run.pk).cursor)
    run.refresh_from_db()

    # Three chunks of nothing but "did not answer": each bounded (3 attempts of 0.3 s).
    assert time.monotonic() - started < 3 * 3
    assert run.status == "paused" and run.processed == 6 and run.failed == 6
    assert "does not answer" in run.pause_reason
    assert timedelta(seconds=50) < run.paused_until - timezone.now() <= timedelta(minutes=1)
    failure = ResyncFailure.objects.filter(run=run).first()
    assert "did not answer" in failure.message and failure.attempts == http.MAX_ATTEMPTS
    # Each pause is longer than the one before; after MAX_SILENT_PAUSES the run fails.
    for _ in range(skeleton.MAX_SILENT_PAUSES):
        run = wake(run)
        process_chunk(run.pk, run.cursor)
        run.refresh_from_db()
    assert run.status == "failed"
    assert "did not answer for" in run.error and "resume" in run.error
    assert run.processed == 2 * (skeleton.SILENT_CHUNKS + skeleton.MAX_SILENT_PAUSES)


def test_a_huge_retry_after_pauses_the_run_and_every_integration_of_the_app(
    sandbox, sandbox_account, enqueued
):
    sandbox.configure("allegro", sandbox_account, throttle_every=1, retry_after=600)
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 5, photos=0)
    run = start_resync(allegro, source="cli")

    started = time.monotonic()
    process_chunk(run.pk, 0)
    run.refresh_from_db()

    assert time.monotonic() - started < 5  # no worker held for ten minutes
    assert run.status == "paused" and run.processed == 0 and run.failed == 0
    assert "asked us to wait" in run.pause_reason
    # Ten minutes asked, CHANNEL_MAX_HOLD_SECONDS (5 minutes) held: then the run asks again.
    assert timedelta(minutes=4) < run.paused_until - timezone.now() <= timedelta(minutes=5)
    assert run_figures(run)["waiting_reason"] == run.pause_reason
    # Another integration on the same Client ID waits too: the 429 blocked the app's budget.
    other = sandbox_integration(sandbox, f"{sandbox_account}b", "allegro", name="Second seller")
    make_offers(other, 3, photos=0, prefix="S")
    second = start_resync(other, source="cli")
    process_chunk(second.pk, 0)
    second.refresh_from_db()
    assert second.status == "paused" and second.processed == 0
    assert "asked us to wait" in second.pause_reason
    assert sandbox.state("allegro", f"{sandbox_account}b")["counters"]["requests"] == 0


def test_a_chunk_that_always_raises_fails_the_run_with_the_error(
    sandbox, sandbox_account, monkeypatch, enqueued
):
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(shop, 5, photos=0)

    def broken(*args, **kwargs):
        raise RuntimeError("the mapping broke")

    monkeypatch.setattr(resync_chunk, "items_to_send", broken)
    run = start_resync(shop, source="cli")

    process_chunk(run.pk, 0)
    run.refresh_from_db()
    assert run.status == "paused" and "the mapping broke" in run.pause_reason
    for _ in range(skeleton.MAX_CHUNK_ERRORS - 1):
        run = wake(run)
        process_chunk(run.pk, run.cursor)
        run.refresh_from_db()
    assert run.status == "failed" and run.finished_at
    assert "RuntimeError: the mapping broke" in run.error
    assert f"{skeleton.MAX_CHUNK_ERRORS} times" in run.error


def test_cancel_is_honoured_while_a_chunk_keeps_raising(
    sandbox, sandbox_account, monkeypatch, enqueued
):
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(shop, 5, photos=0)

    def broken(integration, store=None):
        raise RuntimeError("no adapter today")

    monkeypatch.setattr("integrations.shopconnect.adapter_for", broken)
    run = start_resync(shop, source="cli")
    process_chunk(run.pk, 0)  # raises inside: paused for a retry
    run.refresh_from_db()
    assert run.status == "paused"

    assert cancel_resync(run)
    run.refresh_from_db()
    assert run.status == "cancelled" and run.finished_at
    # A cancel that reaches a queued run whose task raises before anything else: ended first.
    again = start_resync(shop, source="cli")
    ResyncRun.objects.filter(pk=again.pk).update(status="cancelling")
    process_chunk(again.pk, 0)
    again.refresh_from_db()
    assert again.status == "cancelled"


def test_an_offer_deleted_while_its_chunk_is_sent_is_skipped(
    sandbox, sandbox_account, monkeypatch, enqueued
):
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    offers = make_offers(shop, 6, photos=0)
    live_offers = recording.live_offers

    def delete_then_check(integration_id, offer_ids):
        # Sent, answered, and only now deleted: just before the chunk is recorded.
        Offer.objects.filter(pk=offers[2].pk).delete()
        return live_offers(integration_id, offer_ids)

    monkeypatch.setattr(recording, "live_offers", delete_then_check)
    run = drain(start_resync(shop, source="cli"))

    assert run.status == "completed" and run.failed == 0
    assert run.sent == 5 and run.processed == 6
    assert not SiteJournal.objects.filter(offer_id=offers[2].pk).exists()


def test_deactivating_the_integration_cancels_its_run(sandbox, sandbox_account, enqueued):
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(shop, 5, photos=0)
    run = start_resync(shop, source="cli")
    shop.active = False
    shop.save()

    process_chunk(run.pk, 0)

    run.refresh_from_db()
    assert run.status == "cancelled" and "deactivated" in run.error
    assert run.processed == 0


def test_progress_never_passes_the_offers_the_run_set_out_to_visit(
    sandbox, sandbox_account, chunk_size, enqueued
):
    chunk_size("woocommerce", 5)
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(shop, 15, photos=0)
    run = start_resync(shop, source="cli")
    process_chunk(run.pk, 0)
    make_offers(shop, 6, photos=0, start=100, prefix="NEW")  # added during the run

    run = drain(run)

    assert (run.status, run.total, run.processed) == ("completed", 15, 15)
    assert run_figures(run)["percent"] == 100


def test_a_forced_photo_resend_made_during_a_chunk_is_not_undone(
    sandbox, sandbox_account, monkeypatch, enqueued
):
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    [offer] = make_offers(shop, 1, photos=1)
    drain(start_resync(shop, source="cli"))  # photos sent, their hash journaled
    journal = SiteJournal.objects.get(offer=offer, integration=shop)
    assert journal.photos_hash
    live_offers = recording.live_offers

    def force_then_check(integration_id, offer_ids):
        # While the chunk was out, the seller forced a photo resend of the offer.
        offer_channel_set_active(offer=offer, integration=shop, active=False)
        offer_channel_set_active(offer=offer, integration=shop, active=True)
        return live_offers(integration_id, offer_ids)

    monkeypatch.setattr(recording, "live_offers", force_then_check)
    drain(start_resync(shop, source="cli"))

    journal.refresh_from_db()
    assert journal.photos_hash == ""  # the next resync sends the photos again
    assert OfferPhoto.objects.filter(offer=offer).exists()


def test_a_run_held_by_a_budget_says_which_limit_and_when_it_goes_on(
    sandbox, sandbox_account, settings, monkeypatch, enqueued
):
    settings.CHANNEL_LIMITS = {"allegro": {"edits": [[5, 4]]}}
    monkeypatch.setattr(http, "MAX_BUDGET_WAIT", 0.5)
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 12, photos=0)
    run = start_resync(allegro, source="cli")

    process_chunk(run.pk, 0)
    run.refresh_from_db()

    assert run.status == "paused"
    assert run.processed <= 5 and run.failed == 0
    assert "edits" in run.pause_reason and "5 edits in 4 seconds" in run.pause_reason
    assert "continuing at" in run.pause_reason
    for _ in range(20):
        if not run.is_active:
            break
        if run.status == "paused":
            time.sleep(max((run.paused_until - timezone.now()).total_seconds(), 0))
            run = wake(run)
        process_chunk(run.pk, run.cursor)
        run.refresh_from_db()
    assert (run.status, run.sent) == ("completed", 12)
    patched = sandbox.state("allegro", sandbox_account)["counters"]["by_endpoint"]
    assert patched["PATCH /sale/product-offers/{offerId}"] <= 12 + 5  # re-sent at most a few


def test_a_run_sharing_a_budget_says_so(sandbox, sandbox_account, enqueued):
    first = sandbox_integration(sandbox, sandbox_account, "allegro", name="Seller A")
    second = sandbox_integration(sandbox, f"{sandbox_account}b", "allegro", name="Seller B")
    make_offers(first, 3, photos=0)
    make_offers(second, 3, photos=0, prefix="B")
    start_resync(second, source="cli")  # queued: it will spend the same application budget
    run = start_resync(first, source="cli")

    estimate = estimates.resync_estimate(first)
    assert estimate.sharing == 1

    ResyncRun.objects.filter(pk=run.pk).update(status="running")
    resync_chunk.note_sharing(
        run, __import__("integrations.shopconnect").shopconnect.adapter_for(first)
    )
    run.refresh_from_db()
    assert "Sharing Allegro's application limit with 1 other resync" in run.pause_reason
