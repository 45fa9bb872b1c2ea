"""Confirmations before a resync: a retry and a fix ask first (a run without failures says why
instead), and the estimate follows the choice of what to send (photos where they cost, the
choice in the confirmation's URL)."""

import pytest
from django.utils import translation

from integrations.models import ResyncRun
from integrations.services import estimates
from tests.catalogue import make_offers
from tests.page_fixtures import html, v2

pytestmark = pytest.mark.django_db


# --- 13. retry and fix ask first ---------------------------------------------------------------


def test_retry_failed_asks_first_and_starts_nothing(seller, failed_run):
    integration = failed_run.integration
    page = html(seller.get(v2("resync_retry", integration.pk), {"run": failed_run.pk}))
    assert "Tak, resynchronizuj 3 oferty" in page and "około" in page and "duży ruch" in page
    assert f'name="run" value="{failed_run.pk}"' in page
    assert ResyncRun.objects.count() == 1


def test_retry_these_asks_first_for_its_reason(seller, failed_run):
    integration = failed_run.integration
    page = html(
        seller.get(
            v2("resync_retry", integration.pk),
            {"run": failed_run.pk, "group_code": "invalid_sku", "group_message": "SKU zajęte"},
        )
    )
    assert 'name="group_code" value="invalid_sku"' in page and "SKU zajęte" in page
    assert ResyncRun.objects.count() == 1
    seller.post(
        v2("resync_retry", integration.pk),
        {"run": failed_run.pk, "group_code": "invalid_sku", "group_message": "SKU zajęte"},
    )
    retry = ResyncRun.objects.exclude(pk=failed_run.pk).get()
    assert retry.retry_filter == {"code": "invalid_sku", "message": "SKU zajęte"}


def test_a_run_without_failures_says_why_instead_of_asking(seller, english, shop):
    run = ResyncRun.objects.create(integration=shop, source="v2", status="completed", total=30)
    response = seller.get(v2("resync_retry", shop.pk), {"run": run.pk}, follow=True)
    assert "no failed offers" in html(response)


# --- 6. estimates per choice -----------------------------------------------------------------


def test_allegro_estimates_count_the_photos_where_they_cost(make_integration):
    allegro = make_integration(name="Allegro")
    # 100,000 offers with 8 photos: the application's 9,000 requests/min bind when photos go.
    with translation.override("en"):
        everything = estimates.resync_estimate(allegro, 100_000, photos_per_offer=8)
        prices = estimates.resync_estimate(
            allegro, 100_000, data_types="prices_stock", photos_per_offer=8
        )
    assert everything.seconds > prices.seconds * 1.3
    assert "application" in everything.binding and "edits" in prices.binding


def test_the_catalogues_photos_make_the_choices_differ(make_integration):
    allegro = make_integration(name="Allegro", requests_per_minute=60)
    make_offers(allegro, 30, photos=2)
    choices = {c["value"]: c["seconds"] for c in estimates.data_choices([allegro])}
    assert choices["prices_stock"] * 2 < choices["all"] == choices["content"]
    target = estimates.resync_targets([allegro], selected="prices_stock")[0]
    photos = {c.value: c.photos for c in target.choices}
    assert photos == {"all": "all", "prices_stock": "none", "content": "all"}
    assert target.estimate == next(c.estimate for c in target.choices if c.selected)


def test_the_confirmation_renders_the_choice_in_its_url(seller, shop):
    page = html(seller.get(v2("resync_confirm", shop.pk), {"data_types": "prices_stock"}))
    assert 'value="prices_stock" checked' in page
    assert 'data-estimate-for="prices_stock">' in page  # shown
    assert 'data-estimate-for="all" hidden' in page
    assert 'data-photos="none">bez zdjęć<' in page
    assert "xsale/resync-choice.js" in page
