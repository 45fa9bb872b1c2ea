"""Amazon's documents (the listings report of a drift check, feed processing reports) are read
through the streamed path: to a temporary file under CHANNEL_MAX_DOCUMENT_BYTES, inflated when
GZIP, read page by page — not through the capped answer reader (CHANNEL_MAX_ANSWER_BYTES).
Against the sandbox over HTTP; the caps are made small so that the documents outgrow them."""

import pytest
import requests
from django.utils import translation

from integrations.models import DriftItem, ResyncFailure
from integrations.services import drift
from integrations.services.runs import start_resync
from tests.amazon_models import amazon_integration
from tests.catalogue import make_offers
from tests.run_steps import drain  # what the resync cluster does

pytestmark = pytest.mark.django_db

OFFERS = 200
ANSWER_CAP = 8 * 1024  # far below the listings report of 200 listings (about 30 KB)
REPORT_DOCUMENTS = "GET /reports/2021-06-30/documents/{document_id}"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def amazon(sandbox, sandbox_account, settings):
    """200 offers sent to the sandbox in one feed, so that its listings are ours."""
    settings.RESYNC_TASK_SECONDS = 0
    settings.AMAZON_FEED_THRESHOLD = 10
    sandbox.configure(
        "amazon",
        sandbox_account,
        feed_queue_seconds=0.1,
        feed_processing_seconds=0.2,
        report_processing_seconds=0.3,
    )
    integration = amazon_integration(sandbox, sandbox_account)
    make_offers(integration, OFFERS, photos=0)
    run = drain(start_resync(integration, source="cli"))
    assert (run.status, run.sent) == ("completed", OFFERS)
    return integration


def drift_sandbox(sandbox, account, **shares) -> dict:
    response = requests.post(
        f"{sandbox.url}/_sandbox/amazon/{account}/drift", json=shares, timeout=10
    )
    response.raise_for_status()
    return response.json()


def counters(sandbox, account) -> dict:
    return sandbox.state("amazon", account)["counters"]


def found(run, kind, field=None) -> set[str]:
    items = DriftItem.objects.filter(check_run=run, kind=kind)
    return {i.external_id for i in items if field is None or field in i.fields}


def changed(answer, field) -> set[str]:
    return {str(change["id"]) for change in answer["changes"][field]}


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_a_report_larger_than_any_answer_is_read_in_pages_and_finds_the_exact_drift(
    amazon, sandbox, sandbox_account, settings, compressed, monkeypatch
):
    from integrations.saleschannels.amazon import reading as amazon_reading

    settings.CHANNEL_MAX_ANSWER_BYTES = ANSWER_CAP
    monkeypatch.setattr(amazon_reading, "REPORT_PAGE", 64)  # four pages, each from the file
    sandbox.configure("amazon", sandbox_account, compress_documents=compressed)
    answer = drift_sandbox(
        sandbox, sandbox_account, price_share=0.1, stock_share=0.1, remove=3, add_unknown=4, seed=5
    )

    run = drain(drift.start_check(amazon, user=None, source="cli", data_types="prices_stock"))

    assert (run.status, run.error, run.failed) == ("completed", "", 0)
    assert run.report["listings"] == OFFERS - 3 + 4
    assert found(run, "differs", "price") == changed(answer, "price")
    assert found(run, "differs", "stock") == changed(answer, "stock")
    assert found(run, "missing") == {str(i) for i in answer["removed"]}
    assert found(run, "unknown") == {str(i) for i in answer["added"]}
    state = counters(sandbox, sandbox_account)
    plain_report = (OFFERS + 1) * 100  # at least 100 bytes a row of Amazon's 29 columns
    if not compressed:
        assert state["largest_download"] > max(ANSWER_CAP, plain_report)
    assert state["by_endpoint"][REPORT_DOCUMENTS] == 1  # downloaded once, read in four pages
    assert state["limit_violations"] == 0


@pytest.mark.parametrize("compressed", [False, True], ids=["download", "inflated"])
def test_a_report_over_the_document_cap_fails_the_check_once_with_a_reason(
    amazon, sandbox, sandbox_account, settings, compressed
):
    # 200 listings make about 30 KB of text; GZIP makes it a few KB, under the cap, so the
    # inflated size is what passes it.
    settings.CHANNEL_MAX_DOCUMENT_BYTES = 12 * 1024
    sandbox.configure("amazon", sandbox_account, compress_documents=compressed)

    run = drain(drift.start_check(amazon, user=None, source="cli", data_types="prices_stock"))

    assert run.status == "failed"
    assert "Amazon's listings report is larger than xSale reads" in run.error
    assert "CHANNEL_MAX_DOCUMENT_BYTES" in run.error
    assert not DriftItem.objects.filter(check_run=run).exists()
    state = counters(sandbox, sandbox_account)
    assert state["by_endpoint"][REPORT_DOCUMENTS] == 1  # not asked again: it would not fit
    if compressed:
        assert state["largest_download"] < settings.CHANNEL_MAX_DOCUMENT_BYTES


def test_a_processing_report_larger_than_any_answer_is_read_from_its_file(
    sandbox, sandbox_account, settings
):
    settings.RESYNC_TASK_SECONDS = 0
    settings.AMAZON_FEED_THRESHOLD = 10
    failing = {
        str(1000 + n): {"code": "90220", "message": f"'[item_name]' is required ({n})."}
        for n in range(1, 41)
    }
    sandbox.configure(
        "amazon",
        sandbox_account,
        feed_queue_seconds=0.1,
        feed_processing_seconds=0.2,
        fail_skus=failing,
        compress_documents=True,
    )
    integration = amazon_integration(sandbox, sandbox_account)
    make_offers(integration, 60, photos=0)
    settings.CHANNEL_MAX_ANSWER_BYTES = 2 * 1024  # the report of 40 issues is about 8 KB

    run = drain(start_resync(integration, source="cli"))

    assert (run.status, run.sent, run.failed) == ("completed", 20, 40)
    messages = set(ResyncFailure.objects.filter(run=run).values_list("code", "message"))
    assert ("90220", "'[item_name]' is required (7). (item_name)") in messages
