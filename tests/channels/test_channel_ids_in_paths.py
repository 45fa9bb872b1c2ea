"""An id a channel gave us goes into a URL path quoted: it names one resource, never a path."""

from urllib.parse import quote, urlsplit

import pytest

from integrations.models import ChannelBatch
from integrations.services.runs import start_resync
from tests.amazon_models import amazon_integration
from tests.catalogue import make_offers
from tests.run_steps import drain

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages")]

OFFERS = 12


@pytest.mark.parametrize("prefix", ["../../reports/2021-06-30/reports/", "x?marketplaceIds=1#"])
def test_amazons_feed_id_is_quoted_in_the_path_of_every_feed_read(
    sandbox, sandbox_account, settings, wire, prefix
):
    settings.RESYNC_TASK_SECONDS = 0
    settings.AMAZON_FEED_THRESHOLD = 10  # this small run goes in feeds
    settings.AMAZON_FEED_MAX_MESSAGES = 8
    sandbox.configure(
        "amazon",
        sandbox_account,
        feed_queue_seconds=0.1,
        feed_processing_seconds=0.2,
        feed_id_prefix=prefix,  # Amazon's ids are digits; an id is still the channel's word
    )
    amazon = amazon_integration(sandbox, sandbox_account)
    make_offers(amazon, OFFERS)

    run = drain(start_resync(amazon, source="cli"))

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    feed_ids = [b.changes["feed_id"] for b in ChannelBatch.objects.filter(run=run)]
    assert len(feed_ids) == 2 and all(f.startswith(prefix) for f in feed_ids)
    reads = [urlsplit(r.url) for r in wire.matching("GET", "/feeds/2021-06-30/feeds/")]
    assert reads
    expected = {f"/amazon/{sandbox_account}/feeds/2021-06-30/feeds/{quote(f, safe='')}"
                for f in feed_ids}  # fmt: skip
    assert {(r.path, r.query, r.fragment) for r in reads} <= {(p, "", "") for p in expected}
