"""Mirakl's drift check from the asynchronous offer export (OF52 → OF53 → OF54: a full export
at most once a day, then differential ones) and its connection test, against the sandbox."""

import time

import pytest

from integrations.models import ChannelJob
from integrations.shopconnect import adapter_for
from tests.catalogue import make_offers
from tests.drift_fixtures import changed, checked, drift_channel, found_items
from tests.mirakl_fixtures import frequencies_kept, mirakl_integration
from tests.run_steps import resynced

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages")]

OFFERS = 40


@pytest.fixture
def mirakl(sandbox, sandbox_account, settings, tmp_path):
    settings.MIRAKL_WORK_DIR = str(tmp_path)
    integration = mirakl_integration(sandbox, sandbox_account, settings)
    make_offers(integration, OFFERS, photos=0)
    assert resynced(integration).sent == OFFERS
    return integration


def exports(sandbox, account) -> dict:
    calls = frequencies_kept(sandbox, account)
    return {"OF52": calls.get("OF52", 0), "OF53": calls.get("OF53", 0)}


def assert_exact(run, answer, removed=(), added=()):
    assert (run.status, run.failed, run.error) == ("completed", 0, "")
    for field in ("price", "stock", "description"):
        assert found_items(run, "differs", field) == changed(answer, field), field
    drifted = set().union(*(changed(answer, f) for f in ("price", "stock", "description")))
    assert found_items(run, "differs") == drifted
    assert found_items(run, "missing") == set(removed)
    assert found_items(run, "unknown") == set(added)


def test_the_check_finds_exactly_the_drift_then_reads_only_the_changes(
    sandbox, sandbox_account, mirakl
):
    answer = drift_channel(
        sandbox,
        "mirakl",
        sandbox_account,
        price_share=0.1,
        stock_share=0.1,
        description_share=0.05,
        remove=2,
        add_unknown=3,
        seed=3,
    )
    first = checked(mirakl)
    assert_exact(first, answer, removed=answer["removed"], added=answer["added"])
    assert first.report["listings"] == OFFERS - 2 + 3

    time.sleep(1.1)  # the differential export's own frequency (xSale's window: 1 s)
    more = drift_channel(sandbox, "mirakl", sandbox_account, price_share=0.1, seed=11)
    second = checked(mirakl)

    # The second check read a differential export merged into the first one's copy.
    expected_prices = changed(answer, "price") | changed(more, "price")
    assert found_items(second, "differs", "price") == expected_prices
    assert found_items(second, "missing") == set(answer["removed"])
    assert found_items(second, "unknown") == set(answer["added"])
    assert second.report["listings"] == OFFERS - 2 + 3
    state = sandbox.state("mirakl", sandbox_account)
    assert state["export_count"] == 2
    assert sandbox.state("mirakl", sandbox_account)["counters"]["by_endpoint"]["OF52"] == 2
    job = ChannelJob.objects.get(integration=mirakl, purpose="mirakl:offer_export")
    assert job.job_id.startswith("differential|")


def test_an_offer_without_stock_is_not_missing(sandbox, sandbox_account, mirakl):
    """A full export leaves inactive offers out unless asked: quantity 0 is not 'missing'."""
    from offers.models import Offer

    zero = [o.sku for o in Offer.objects.filter(stock=0)]
    assert zero  # the catalogue has offers with stock 0 (n % 17)

    run = checked(mirakl)

    assert (run.report["differs"], run.report["missing"], run.report["unknown"]) == (0, 0, 0)


def test_the_connection_test_reads_the_offers_not_the_daily_account(
    sandbox, sandbox_account, settings
):
    integration = mirakl_integration(sandbox, sandbox_account, settings)

    check = adapter_for(integration).test_connection(deadline=time.monotonic() + 20)

    assert check.ok, check
    calls = frequencies_kept(sandbox, sandbox_account)
    assert "A01" not in calls and calls["OF21"] == 1


def test_a_wrong_key_is_named_without_showing_it(sandbox, sandbox_account, settings):
    integration = mirakl_integration(sandbox, sandbox_account, settings)
    integration.credentials = {"api_key": "wrong-secret-key-123"}
    integration.save()

    check = adapter_for(integration).test_connection(deadline=time.monotonic() + 20)

    assert (check.ok, check.problem) == (False, "credentials")
    shown = " ".join([check.summary, check.advice, *check.facts])
    assert "wrong-secret-key-123" not in shown
    assert "API key" in check.summary
