"""Every number and amount a seller reads goes through one helper (xsale.numbers, the
`number` and `amount` filters): Polish comma decimals and non-breaking-space grouping, English
dots and commas; a channel's value that is not a number stays as it came."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from integrations.models import Integration, ResyncRun
from integrations.presentation.drift_report import with_currency
from offers.models import Offer, OfferChannel, SiteJournal
from tests.page_fixtures import html
from xsale.numbers import amount_display, number_display

NBSP = "\N{NO-BREAK SPACE}"


@pytest.mark.parametrize(
    ("value", "polish", "english"),
    [
        (Decimal("443.35"), "443,35", "443.35"),
        (38.04, "38,04", "38.04"),
        (12000, f"12{NBSP}000,00", "12,000.00"),
        ("1234567.5", f"1{NBSP}234{NBSP}567,50", "1,234,567.50"),
    ],
)
def test_amounts_read_the_languages_way(value, polish, english):
    with translation.override("pl"):
        assert amount_display(value) == polish
    with translation.override("en"):
        assert amount_display(value) == english


def test_a_value_that_is_not_a_number_stays_as_it_came():
    with translation.override("pl"):
        assert number_display(None) == "—"
        assert amount_display("", "PLN") == "—"
        assert amount_display("n/a", "PLN") == "n/a PLN"
        # A channel's huge exponent is never expanded into a giant string.
        assert amount_display("1e999999999", "PLN") == "1e999999999 PLN"
        assert number_display(7) == "7"


def test_the_drift_reports_prices_are_the_same_as_the_offer_pages():
    with translation.override("pl"):
        assert with_currency("443.35", "PLN") == "443,35 PLN"
        assert with_currency(Decimal("38.04"), "") == "38,04"


@pytest.fixture
def sold(db):
    shop = Integration.objects.create(
        name="Sklep Woo", channel="woocommerce", api_url="http://127.0.0.1:9/woocommerce/a"
    )
    offer = Offer.objects.create(sku="N-1", name="Lampa", price="1234.5", stock=12000)
    OfferChannel.objects.create(offer=offer, integration=shop, external_id="9")
    SiteJournal.objects.create(
        offer=offer, integration=shop, synced_at=timezone.now(), price_sent=Decimal("443.35"),
        currency_sent="PLN", stock_sent=12000,
    )  # fmt: skip
    ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=12000, processed=12000,
        sent=11500, failed=500, started_at=timezone.now() - timedelta(minutes=5),
        finished_at=timezone.now(),
    )  # fmt: skip
    return shop, offer


@pytest.mark.django_db
def test_the_pages_write_numbers_the_polish_way(seller, sold):
    shop, offer = sold
    log = html(seller.get(reverse("v2:sync_log")))
    assert "443,35 PLN" in log and f"12{NBSP}000" in log
    page = html(seller.get(reverse("v2:offer_detail", args=[offer.pk])))
    assert f"1{NBSP}234,50 PLN" in page and "443,35 PLN" in page and f"12{NBSP}000" in page
    for layout in ("v1", "v2"):
        listing = html(seller.get(reverse(f"{layout}:integration_list")))
        assert f"wysłano 11{NBSP}500 z 12{NBSP}000, nieudane: 500" in listing
