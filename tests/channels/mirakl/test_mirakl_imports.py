"""Mirakl's offers and products by imports through the engine's asynchronous batches, against
the sandbox over HTTP (sandbox/README.md "Mirakl")."""

import pytest

from integrations.models import ChannelBatch, ResyncFailure
from integrations.services.runs import start_resync
from offers.models import SiteJournal
from tests.catalogue import make_offers
from tests.mirakl_fixtures import frequencies_kept, held, mirakl_integration
from tests.run_steps import drain

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages")]

OFFERS = 12


@pytest.fixture(autouse=True)
def handed_on(monkeypatch):
    from integrations.engine import skeleton

    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: None)


@pytest.fixture
def mirakl(sandbox, sandbox_account, settings):
    integration = mirakl_integration(sandbox, sandbox_account, settings)
    make_offers(integration, OFFERS, photos=2)
    return integration


def test_a_resync_creates_the_offers_and_products_by_one_import_each(
    sandbox, sandbox_account, mirakl
):
    run = drain(start_resync(mirakl, source="cli"))

    assert (run.status, run.sent, run.failed) == ("completed", OFFERS, 0)
    rows = ChannelBatch.objects.filter(run=run).order_by("pk")
    assert [(b.operation, b.status, len(b.offers)) for b in rows] == [
        ("mirakl:offers", "done", OFFERS),
        ("mirakl:products", "done", OFFERS),
    ]
    offers = held(sandbox, sandbox_account)
    for row in SiteJournal.objects.filter(integration=mirakl).select_related("offer"):
        offer = offers[str(1000 + int(row.offer.sku[1:]))]
        assert offer["price"] == f"{row.offer.price:.2f}"
        assert offer["quantity"] == row.offer.stock
        assert offer["description"] == row.offer.description
    state = sandbox.state("mirakl", sandbox_account)
    assert state["product_count"] == OFFERS
    calls = frequencies_kept(sandbox, sandbox_account)
    assert calls["OF01"] == 1 and calls["P41"] == 1
    assert not ResyncFailure.objects.filter(run=run).exists()
