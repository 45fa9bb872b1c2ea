"""Sync log filters each valid alone that no row can match together say why, at the top, and
keep what was chosen — never an empty list without a reason."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.models import Integration, ResyncRun
from offers.models import Offer, SiteJournal
from tests.page_fixtures import html

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_shops(db):
    woo = Integration.objects.create(
        name="Sklep Woo", channel="woocommerce", api_url="http://127.0.0.1:9/woocommerce/a"
    )
    allegro = Integration.objects.create(
        name="Allegro PL", channel="allegro", api_url="http://127.0.0.1:9/allegro/a"
    )
    offer = Offer.objects.create(sku="L-1", name="Lampka", price="5.00")
    now = timezone.now()
    for integration in (woo, allegro):
        SiteJournal.objects.create(
            offer=offer, integration=integration, synced_at=now - timedelta(days=2),
            price_sent=Decimal("5.00"), currency_sent="PLN", stock_sent=3,
        )  # fmt: skip
    return woo, allegro


def sync_log(client, **params):
    response = client.get(reverse("v2:sync_log"), params)
    return response, html(response)


def banner(page: str) -> str:
    return page.split("data-form-errors")[1].split("</div>")[0]


def test_an_integration_of_another_channel_says_so(seller, two_shops):
    woo, _ = two_shops
    response, page = sync_log(seller, channel="allegro", integration=woo.pk)
    assert response.context["rows"] == []
    assert "Sklep Woo to integracja WooCommerce, nie Allegro" in banner(page)
    assert 'href="#id_integration"' in banner(page)
    # What was chosen stays chosen.
    assert '<option value="allegro" selected>' in page
    assert f'<option value="{woo.pk}" selected>' in page


def test_a_run_of_another_integration_says_whose_it_is(seller, two_shops):
    woo, allegro = two_shops
    run = ResyncRun.objects.create(
        integration=allegro, source="v2", status="completed",
        started_at=timezone.now() - timedelta(days=3), finished_at=timezone.now(),
    )  # fmt: skip
    _, page = sync_log(seller, integration=woo.pk, run=run.pk)
    assert f"Przebieg nr {run.pk} należy do Allegro PL, nie do Sklep Woo." in banner(page)
    assert f'name="run" value="{run.pk}"' in page


def test_a_run_not_started_yet_says_it_sent_nothing(seller, two_shops):
    woo, _ = two_shops
    run = ResyncRun.objects.create(integration=woo, source="v2", status="queued")
    _, page = sync_log(seller, run=run.pk)
    assert f"Przebieg nr {run.pk} jeszcze się nie rozpoczął" in banner(page)


def test_dates_outside_the_run_say_when_it_ran(seller, two_shops):
    woo, _ = two_shops
    started = timezone.now() - timedelta(days=3)
    run = ResyncRun.objects.create(
        integration=woo, source="v2", status="completed", started_at=started,
        finished_at=started + timedelta(hours=1),
    )  # fmt: skip
    later = (timezone.localtime(started) + timedelta(days=2)).date().isoformat()
    _, page = sync_log(seller, run=run.pk, date_from=later)
    assert f"Przebieg nr {run.pk} zakończył się" in banner(page)
    assert f'value="{later}"' in page


def test_the_date_order_is_said_at_the_top_and_the_dates_are_kept(seller, two_shops):
    _, page = sync_log(seller, date_from="2026-05-10", date_to="2026-05-01")
    assert "Data końcowa jest wcześniejsza niż początkowa." in banner(page)
    assert 'value="2026-05-10"' in page and 'value="2026-05-01"' in page


def test_filters_that_can_match_list_rows(seller, two_shops):
    woo, _ = two_shops
    response, page = sync_log(seller, channel="woocommerce", integration=woo.pk)
    assert len(response.context["rows"]) == 1 and "data-form-errors" not in page
