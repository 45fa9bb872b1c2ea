"""A channel's words are stored capped (base.stored_text), however long its report says them."""

import pytest

from integrations.models import ChannelBatch, ResyncFailure
from integrations.services.runs import start_resync
from integrations.shopconnect.base import CODE_MAX_CHARS, MESSAGE_MAX_CHARS
from offers.models import SiteJournal
from tests.amazon_models import amazon_integration
from tests.catalogue import make_offers
from tests.run_steps import drain

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages")]


def test_a_processing_reports_huge_message_is_stored_capped_in_failures_journal_and_batch(
    sandbox, sandbox_account, settings
):
    settings.RESYNC_TASK_SECONDS = 0
    settings.AMAZON_FEED_THRESHOLD = 10  # this run goes in a feed: its processing report
    huge = "Too few values for our_price. " + "x" * 300_000 + "\x00"
    code = "9" * 5_000
    sandbox.configure(
        "amazon",
        sandbox_account,
        feed_queue_seconds=0.1,
        feed_processing_seconds=0.2,
        fail_skus={"1003": {"code": code, "message": huge}},
    )
    amazon = amazon_integration(sandbox, sandbox_account)
    make_offers(amazon, 12)

    run = drain(start_resync(amazon, source="cli"))

    assert (run.status, run.sent, run.failed) == ("completed", 11, 1)
    [failure] = ResyncFailure.objects.filter(run=run)
    assert failure.message.startswith("Too few values for our_price. xxx")
    assert len(failure.message) <= MESSAGE_MAX_CHARS and "\x00" not in failure.message
    assert failure.code == "9" * CODE_MAX_CHARS
    journal = SiteJournal.objects.get(integration=amazon, offer=failure.offer)
    assert journal.status == "error" and journal.message == failure.message
    [batch] = ChannelBatch.objects.filter(run=run)
    __, stored_code, stored_message, __ = batch.results[str(failure.offer_id)]
    assert len(stored_message) <= MESSAGE_MAX_CHARS and len(stored_code) <= CODE_MAX_CHARS
