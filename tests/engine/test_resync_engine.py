"""The resync engine, chunk by chunk in this process, against the sandbox over HTTP."""

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.engine.runner import process_chunk
from integrations.engine.skeleton import requeue_stale_runs
from integrations.models import ResyncFailure, ResyncRun
from integrations.services.runs import (
    ResyncAlreadyRunning,
    ResyncError,
    cancel_resync,
    retry_failed,
    start_resync,
)
from offers.models import OfferChannel, OfferPhoto, SiteJournal
from offers.services import offer_channel_set_active
from tests.catalogue import image_bytes, make_offers, sandbox_integration
from tests.run_steps import drain
from tests.run_steps import resynced as resync

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("one_chunk_per_task", "english_messages"),
]


def test_a_run_delivers_every_offer_and_writes_the_journal(sandbox, sandbox_account, chunk_size):
    chunk_size("woocommerce", 100)
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    offers = make_offers(woo, 250)
    run = resync(woo)
    assert (run.status, run.total, run.processed, run.sent, run.failed) == (
        "completed",
        250,
        250,
        250,
        0,
    )
    assert run.cursor == offers[-1].pk and run.finished_at
    journal = SiteJournal.objects.filter(integration=woo)
    assert journal.count() == 250
    assert set(journal.values_list("status", flat=True)) == {"ok"}
    row = journal.get(offer=offers[7])
    assert (row.price_sent, row.stock_sent, row.currency_sent) == (
        offers[7].price,
        offers[7].stock,
        "PLN",
    )
    assert row.content_hash == offers[7].content_hash()
    held = sandbox.state("woocommerce", sandbox_account)["offers"]
    assert len(held) == 250
    product = held[str(1000 + 8)]
    assert product["name"] == "Oferta testowa 8"
    assert product["regular_price"] == str(offers[7].price)


def test_inactive_links_are_not_sent(sandbox, sandbox_account):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 5)
    make_offers(woo, 3, start=100, active=False)
    run = resync(woo)
    assert (run.total, run.sent) == (5, 5)
    assert len(sandbox.state("woocommerce", sandbox_account)["offers"]) == 5


def test_an_offer_without_its_listing_id_fails_with_a_clear_reason(sandbox, sandbox_account):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 3)
    OfferChannel.objects.filter(offer=offers[1]).update(external_id="")
    run = resync(allegro)
    assert (run.status, run.sent, run.failed) == ("completed", 2, 1)
    failure = ResyncFailure.objects.get(run=run)
    assert failure.offer == offers[1] and failure.code == "missing_external_id"
    assert "ID" in failure.message and "Allegro" in failure.message


def test_channel_rejections_become_failures_with_the_channels_message(sandbox, sandbox_account):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 12)
    sandbox.configure("allegro", sandbox_account, reject_name_pattern=r"testowa (3|7)$")
    run = resync(allegro)
    assert (run.status, run.sent, run.failed) == ("completed", 10, 2)
    failures = list(ResyncFailure.objects.filter(run=run).order_by("offer__sku"))
    assert [f.offer.sku for f in failures] == ["T000003", "T000007"]
    assert all(f.http_status == 422 and f.message for f in failures)
    row = SiteJournal.objects.get(offer=failures[0].offer)
    assert row.status == "error" and row.message == failures[0].message


def test_retry_failed_sends_only_the_failed_offers(sandbox, sandbox_account):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 20)
    sandbox.configure("woocommerce", sandbox_account, reject_name_pattern=r"testowa 1[0-4]$")
    first = resync(woo)
    assert first.failed == 5
    sandbox.configure("woocommerce", sandbox_account, reject_name_pattern="")
    second = drain(retry_failed(first, user=None, source="cli"))
    assert (second.status, second.total, second.sent, second.failed) == ("completed", 5, 5, 0)
    assert second.retry_of == first
    with pytest.raises(ResyncError, match="no failed offers"):
        retry_failed(second, user=None, source="cli")


def test_photos_go_every_run_to_allegro(sandbox, sandbox_account):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 4, photos=2)
    for _ in range(2):
        run = resync(allegro)
        assert (run.sent, run.photos_sent) == (4, 4)
    assert sandbox.state("allegro", sandbox_account)["counters"]["uploads"] == 16


def test_photos_go_to_woocommerce_only_when_the_set_changed_or_after_reactivation(
    sandbox, sandbox_account
):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    offers = make_offers(woo, 6)
    assert resync(woo).photos_sent == 6  # first time: the journal knows no photos
    assert resync(woo).photos_sent == 0  # unchanged: the channel keeps its own
    photo = OfferPhoto(offer=offers[2], position=5)
    photo.image.save("new.png", ContentFile(image_bytes((0, 0, 0), fmt="PNG")))
    run = resync(woo)
    assert (run.sent, run.photos_sent) == (6, 1)
    offer_channel_set_active(offer=offers[4], integration=woo, active=False)
    offer_channel_set_active(offer=offers[4], integration=woo, active=True)
    assert resync(woo).photos_sent == 1
    assert resync(woo).photos_sent == 0
    product = sandbox.state("woocommerce", sandbox_account)["offers"]["1005"]
    assert product["images"] and product["images"][0]["src"].endswith(".jpg")


def test_a_chunk_of_100_and_a_chunk_of_500_take_the_same_number_of_queries(
    sandbox, sandbox_account, chunk_size
):
    counts = {}
    for size in (100, 500):
        chunk_size("woocommerce", size)
        woo = sandbox_integration(sandbox, f"{sandbox_account}{size}", "woocommerce")
        make_offers(woo, size + 1, prefix=f"Q{size}-")
        run = start_resync(woo, user=None, source="cli")
        with CaptureQueriesContext(connection) as queries:
            process_chunk(run.pk, 0)
        run.refresh_from_db()
        assert run.processed == size
        # Besides the progress a chunk writes every few seconds while it goes (its answered
        # offers, for the page): that count follows the chunk's time, not its size.
        counts[size] = len([q for q in queries if not progress_note(q["sql"])])
    assert counts[100] == counts[500], counts


def progress_note(sql: str) -> bool:
    return sql.startswith("UPDATE") and '"in_flight" =' in sql and '"cursor" =' not in sql


def test_a_second_start_is_refused_while_one_runs(sandbox, sandbox_account):
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 3)
    run = start_resync(woo, user=None, source="v2")
    with pytest.raises(ResyncAlreadyRunning) as refused:
        start_resync(woo, user=None, source="v1")
    assert refused.value.run == run and "already running" in str(refused.value)
    assert ResyncRun.objects.filter(integration=woo).count() == 1
    drain(run)
    assert resync(woo).status == "completed"  # once it ended, a new one can start


def test_cancel_stops_the_run_at_the_next_chunk(sandbox, sandbox_account, chunk_size):
    chunk_size("woocommerce", 10)
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 50)
    run = start_resync(woo, user=None, source="v2")
    process_chunk(run.pk, 0)
    assert cancel_resync(run) is True
    run = drain(run)
    assert (run.status, run.processed) == ("cancelled", 10)
    assert run.finished_at is not None
    assert cancel_resync(run) is False


def test_a_duplicate_chunk_task_does_nothing(sandbox, sandbox_account, chunk_size):
    chunk_size("woocommerce", 10)
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 25)
    run = start_resync(woo, user=None, source="cli")
    process_chunk(run.pk, 0)
    process_chunk(run.pk, 0)  # the broker handed the same task out again
    run.refresh_from_db()
    assert run.processed == 10
    assert drain(run).processed == 25


def test_transient_5xx_and_429_end_with_nothing_failed(sandbox, sandbox_account):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 80)  # 160 requests: an upload and a PATCH per offer
    sandbox.configure("allegro", sandbox_account, fail_rate=0.05, throttle_every=40, retry_after=1)
    run = resync(allegro)
    assert (run.status, run.sent, run.failed) == ("completed", 80, 0)
    counters = sandbox.state("allegro", sandbox_account)["counters"]
    assert counters["throttled"] >= 3 and counters["errors_5xx"] >= 7


def test_refused_credentials_fail_the_run_with_a_message_for_the_seller(sandbox, sandbox_account):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    allegro.credentials = {**allegro.credentials, "refresh_token": "revoked-refresh-token"}
    allegro.save()
    make_offers(allegro, 3)
    sandbox.configure("allegro", sandbox_account, expire_tokens=True)
    run = resync(allegro)
    assert run.status == "failed" and run.error
    assert "revoked-refresh-token" not in run.error and "sandbox-secret" not in run.error


def test_a_stale_run_is_enqueued_again(sandbox, sandbox_account, settings):

    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 3)
    run = start_resync(woo, user=None, source="cli")
    long_ago = timezone.now() - timezone.timedelta(
        seconds=settings.RESYNC_HEARTBEAT_STALE_SECONDS + 5
    )
    ResyncRun.objects.filter(pk=run.pk).update(created_at=long_ago, heartbeat_at=long_ago)
    assert requeue_stale_runs() == 1
    ResyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    assert requeue_stale_runs() == 0
