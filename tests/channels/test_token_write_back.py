"""A token a channel renews while a run only works its batches is written to the integration."""

import pytest

from integrations.engine.runner import process_chunk
from integrations.engine.store import adapter_for
from integrations.models import ChannelBatch, Integration, ResyncRun
from integrations.services.runs import start_resync
from integrations.shopconnect.http import forget_clients
from tests.amazon_models import amazon_integration
from tests.catalogue import make_offers, sandbox_integration
from tests.run_steps import drain

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages")]

FIRST_REFRESH_TOKEN = "sandbox-refresh"


@pytest.fixture
def amazon_feed_run(sandbox, sandbox_account, settings):
    settings.RESYNC_TASK_SECONDS = 0  # one step per task
    settings.AMAZON_FEED_THRESHOLD = 10  # this run goes in feeds: no offer by `send`
    settings.AMAZON_FEED_MAX_MESSAGES = 8
    # Login with Amazon hands out a new refresh token with every access token.
    sandbox.configure(
        "amazon",
        sandbox_account,
        rotate_refresh_tokens=True,
        feed_queue_seconds=0.1,
        feed_processing_seconds=1.0,
    )
    amazon = amazon_integration(sandbox, sandbox_account)
    assert amazon.credentials["refresh_token"] == FIRST_REFRESH_TOKEN
    make_offers(amazon, 12)
    return amazon


def stored_refresh_token(integration) -> str:
    return Integration.objects.get(pk=integration.pk).credentials["refresh_token"]


def test_a_refresh_token_rotated_while_the_run_only_reads_reports_is_stored(amazon_feed_run):
    amazon = amazon_feed_run
    run = start_resync(amazon, source="cli")
    # Step until every feed is submitted: what is left is reading their reports.
    for _ in range(20):
        run.refresh_from_db()
        batches = ChannelBatch.objects.filter(run=run)
        if batches.count() == 2 and not batches.filter(status="prepared").exists():
            break
        drain_one(run)
    assert not ChannelBatch.objects.filter(run=run, status="prepared").exists()
    assert ChannelBatch.objects.filter(run=run, status="submitted").exists()
    # A new worker process (the sweeper handed the run on): its first request buys a token,
    # and the answer carries a new refresh token — during a step that only reads reports.
    forget_clients()
    before = stored_refresh_token(amazon)

    run = drain(run)

    assert (run.status, run.sent) == ("completed", 12)
    in_memory = adapter_for(Integration.objects.get(pk=amazon.pk)).client.auth.refresh_token
    assert stored_refresh_token(amazon) == in_memory != before


def drain_one(run: ResyncRun) -> None:
    run.refresh_from_db()
    process_chunk(run.pk, run.cursor)


def test_a_feed_run_stores_every_refresh_token_it_was_handed(amazon_feed_run):
    run = drain(start_resync(amazon_feed_run, source="cli"))

    assert (run.status, run.sent) == ("completed", 12)
    integration = Integration.objects.get(pk=amazon_feed_run.pk)
    in_memory = adapter_for(integration).client.auth.refresh_token
    assert stored_refresh_token(amazon_feed_run) == in_memory != FIRST_REFRESH_TOKEN


def test_allegros_refresh_token_rotated_by_the_seller_lookup_is_stored_before_anything_is_sent(
    sandbox, sandbox_account
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    allegro.credentials["access_token"] = "expired-long-ago"  # /me is refused: a refresh
    allegro.save()
    first = allegro.credentials["refresh_token"]
    adapter = adapter_for(allegro)

    adapter.prepare()  # once per task, before any chunk

    assert stored_refresh_token(allegro) == adapter.client.auth.refresh_token != first
