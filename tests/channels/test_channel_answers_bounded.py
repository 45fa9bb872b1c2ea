"""What a channel answers is read under explicit bounds (issue 24, item 3): documents, answers
and numbers that a small script made from outside end as a failure with a reason a seller can
act on — of the run, or of the one listing a field belongs to — in bounded memory and time,
never as a worker lost.

Against the sandbox over HTTP, with a hostile server in front of it (tests/hostile_channels.py)
answering what the issue found. Peak memory is measured with tracemalloc around the reading."""

import json
import time
import tracemalloc
from contextlib import contextmanager

import pytest

from integrations.models import ResyncFailure
from integrations.saleschannels.allegro import reading as allegro
from integrations.saleschannels.amazon import documents as amazon_documents
from integrations.saleschannels.amazon import reading as amazon
from integrations.saleschannels.woocommerce import adapter as woocommerce
from integrations.services import drift
from integrations.services.runs import start_resync
from integrations.shopconnect.bounded import UNREADABLE, channel_number
from tests.amazon_models import amazon_integration
from tests.catalogue import make_offers, sandbox_integration
from tests.hostile_channels import (
    HostileChannel,
    answer_nested,
    answer_of_entries,
    gzip_document,
    json_answer,
    report_of_empty_lines,
    report_of_millions_of_issues,
    report_of_one_endless_line,
)
from tests.run_steps import drain

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages", "handed_on")]

MiB = 1024 * 1024
HUGE = "1e999999999"  # 11 bytes: a gigabyte string through f"{Decimal(x):.2f}"


@contextmanager
def peak_memory():
    """{"peak": bytes} allocated by Python at most inside the block."""
    measured = {}
    tracemalloc.start()
    started = time.monotonic()
    try:
        yield measured
    finally:
        measured["peak"] = tracemalloc.get_traced_memory()[1]
        measured["seconds"] = time.monotonic() - started
        tracemalloc.stop()


def s3(kind: str):
    """A hostile answer for GETs of Amazon's presigned documents of `kind`."""

    def hostile_for(data: bytes):
        document = gzip_document(data)

        def hostile(method, path, query):
            return document if method == "GET" and f"/s3/{kind}/" in path else None

        return hostile

    return hostile_for


@pytest.fixture
def amazon_shop(sandbox, sandbox_account, settings):
    settings.RESYNC_TASK_SECONDS = 0
    settings.AMAZON_FEED_THRESHOLD = 10  # 20 offers go in a feed
    # These tests prove the bounds on entries and lines; the reading deadline has its own test
    # (test_counting_a_listings_report_stops_at_its_deadline), and on a loaded machine reading
    # two million entries may take longer than the default 60 s before their bound is reached.
    settings.CHANNEL_DOCUMENT_SECONDS = 600
    sandbox.configure(
        "amazon",
        sandbox_account,
        feed_queue_seconds=0.1,
        feed_processing_seconds=0.2,
        report_processing_seconds=0.2,
        compress_documents=True,
    )
    integration = amazon_integration(sandbox, sandbox_account)
    make_offers(integration, 20, photos=0)
    return integration


@pytest.fixture
def amazon_listed(amazon_shop):
    """The shop's offers listed on Amazon, so that its listings report has rows."""
    run = drain(start_resync(amazon_shop, source="cli"), max_chunks=200)
    assert (run.status, run.sent) == ("completed", 20)
    return amazon_shop


# --- Amazon's documents ---------------------------------------------------------------------------


def test_a_processing_report_of_millions_of_issues_fails_the_feed_in_bounded_memory(
    amazon_shop, sandbox
):
    with HostileChannel(sandbox.url, s3("feeds")(report_of_millions_of_issues())) as shop:
        shop.point(amazon_shop)
        with peak_memory() as measured:
            run = drain(start_resync(amazon_shop, source="cli"), max_chunks=200)
        assert shop.served, "the hostile report was not asked for"
    assert (run.status, run.sent, run.failed) == ("completed", 0, 20)
    reasons = set(ResyncFailure.objects.filter(run=run).values_list("message", flat=True))
    assert len(reasons) == 1
    (reason,) = reasons
    assert "more than 2,000,000 entries" in reason and "CHANNEL_MAX_DOCUMENT_ENTRIES" in reason
    # json.loads of the whole report took 227 MiB (3.1 million issues kept).
    assert measured["peak"] < 48 * MiB, measured


def test_a_listings_report_of_one_endless_line_fails_the_check_in_bounded_memory(
    amazon_listed, sandbox
):
    amazon_shop = amazon_listed
    with HostileChannel(sandbox.url, s3("reports")(report_of_one_endless_line())) as shop:
        shop.point(amazon_shop)
        with peak_memory() as measured:
            check = drain(drift.start_check(amazon_shop, user=None, source="cli"), max_chunks=200)
        assert shop.served
    assert check.status == "failed"
    assert "longer than 256 KB (CHANNEL_MAX_LINE_BYTES)" in check.error, check.error
    # readline() with no limit held the whole 64 MiB line (and its decoded copy).
    assert measured["peak"] < 16 * MiB, measured


def test_a_listings_report_of_millions_of_empty_lines_is_refused_without_reading_each(
    amazon_listed, sandbox
):
    amazon_shop = amazon_listed
    with HostileChannel(sandbox.url, s3("reports")(report_of_empty_lines(3_000_000))) as shop:
        shop.point(amazon_shop)
        check = drain(drift.start_check(amazon_shop, user=None, source="cli"), max_chunks=200)
    assert check.status == "failed"
    assert "more than 2,000,000 lines (CHANNEL_MAX_DOCUMENT_ENTRIES)" in check.error, check.error


def test_counting_a_listings_report_stops_at_its_deadline(settings, tmp_path):
    settings.CHANNEL_DOCUMENT_SECONDS = 0.0
    path = tmp_path / "report.txt"
    path.write_bytes(b"seller-sku\tprice\n" + b"SKU\t1.00\n" * 400_000)
    with pytest.raises(amazon_documents.ChannelUnavailable) as refused:
        amazon_documents.TabDocument(path.open("rb"))
    assert refused.value.code == amazon_documents.OVERSIZED
    assert "took longer than 0 s (CHANNEL_DOCUMENT_SECONDS)" in str(refused.value)


def test_a_listings_report_within_the_bounds_reads_every_row(settings, tmp_path):
    settings.CHANNEL_MAX_LINE_BYTES = 64
    path = tmp_path / "report.txt"
    rows = b"".join(b"S%d\t%d.50\t%d\n" % (n, n, n) for n in range(1000))
    path.write_bytes(b"\xef\xbb\xbfseller-sku\tprice\tquantity\r\n\n" + rows + b"\n\nLAST\t1\t2")
    document = amazon_documents.TabDocument(path.open("rb"))
    try:
        assert document.total == 1001
        read, offset, ended = [], 0, False
        while not ended:
            page, offset, ended = document.rows(offset, 300)
            read += page
    finally:
        document.close()
    assert len(read) == 1001 and read[0] == {"seller-sku": "S0", "price": "0.50", "quantity": "0"}
    assert read[-1] == {"seller-sku": "LAST", "price": "1", "quantity": "2"}


# --- numbers in listings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "read",
    [
        lambda price: amazon.listing_fields({"seller-sku": "A1", "price": price}),
        lambda price: woocommerce.product_fields({"id": 1, "regular_price": price}),
        lambda price: allegro.listing_fields({"sellingMode": {"price": {"amount": price}}}),
    ],
    ids=["amazon", "woocommerce", "allegro"],
)
@pytest.mark.parametrize("price", [HUGE, "-1e999999999", "Infinity", "NaN", "9" * 41])
def test_a_price_past_the_number_bounds_makes_the_listing_unreadable_at_once(read, price):
    started = time.monotonic()
    fields = read(price)
    assert time.monotonic() - started < 0.5
    assert "price" not in fields and fields[UNREADABLE]
    assert "the price" in fields[UNREADABLE].lower()


def test_channel_numbers_within_the_bounds_read_as_before():
    assert channel_number("129.90", what="the price") == channel_number(129.9, what="x")
    assert str(channel_number("1.2E+3", what="x")) == "1.2E+3"
    assert channel_number("", what="x") is None and channel_number("abc", what="x") is None
    assert channel_number(True, what="x") is None
    assert woocommerce.product_fields({"regular_price": "12.5"})["price"] == "12.50"
    assert woocommerce.product_fields({"regular_price": "n/a"})["price"] == "n/a"
    assert amazon.listing_fields({"seller-sku": "A", "quantity": "²"}) == {"external_id": "A"}


def test_a_listing_whose_price_is_1e999999999_fails_that_offer_and_the_check_goes_on(
    sandbox, sandbox_account, settings
):
    settings.RESYNC_TASK_SECONDS = 0
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    offers = make_offers(woo, 3, photos=0)
    for n, offer in enumerate(offers, start=1):
        offer.channels.filter(integration=woo).update(external_id=str(n))
    page = json_answer(
        json.dumps(
            [
                {"id": 1, "name": "P1", "regular_price": HUGE},
                {"id": 2, "name": "P2", "regular_price": "1.99"},
                {"id": 3, "name": "P3", "regular_price": "1.99"},
            ]
        ).encode()
    )

    def hostile(method, path, query):
        return page if method == "GET" and path.endswith("/wp-json/wc/v3/products") else None

    with HostileChannel(sandbox.url, hostile) as shop:
        shop.point(woo)
        with peak_memory() as measured:
            check = drain(drift.start_check(woo, user=None, source="cli"), max_chunks=200)
    assert check.status == "completed", check.error
    failure = ResyncFailure.objects.get(run=check)
    assert failure.offer_id == offers[0].pk and failure.code == "unbounded_answer"
    assert "could not be read" in failure.message and "the price" in failure.message.lower()
    assert check.report["differs"] == 2  # the others were compared
    assert measured["peak"] < 32 * MiB, measured


# --- JSON answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (answer_of_entries(), "more than 200,000 entries"),
        (answer_nested(), "nested deeper than 64 levels"),
        (b'[{"id": 1, "regular_price": 1e999999999}]', "not a finite number"),
        (b'[{"id": 1, "stock_quantity": NaN}]', "NaN, which is no number"),
        (b'[{"id": 1, "stock_quantity": ' + b"9" * 5000 + b"}]", "numbers of at most 40"),
    ],
    ids=["entries", "nesting", "exponent", "nan", "digits"],
)
def test_an_answer_past_a_bound_fails_the_check_with_a_reason_in_bounded_memory(
    sandbox, sandbox_account, settings, answer, said
):
    settings.RESYNC_TASK_SECONDS = 0
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 3, photos=0)

    def hostile(method, path, query):
        if method == "GET" and path.endswith("/wp-json/wc/v3/products"):
            return json_answer(answer)
        return None

    with HostileChannel(sandbox.url, hostile) as shop:
        shop.point(woo)
        with peak_memory() as measured:
            check = drain(drift.start_check(woo, user=None, source="cli"), max_chunks=200)
    assert check.status == "failed"
    assert said in check.error and "WooCommerce" in check.error, check.error
    assert check.chunk_errors == 0  # refused once, not retried as an unexpected error
    # json.loads of 2.8 million objects took ~200 MiB.
    assert measured["peak"] < 48 * MiB, measured
