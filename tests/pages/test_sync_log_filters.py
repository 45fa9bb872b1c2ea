"""The sync log filters by integration and run, and says what is wrong with a filter."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import ResyncRun
from tests.page_fixtures import html, v2

pytestmark = pytest.mark.django_db


def rows(client, **params):
    return client.get(v2("sync_log"), params).context["rows"]


def test_it_filters_by_integration(seller, journal, shop):
    found = rows(seller, integration=shop.pk)
    assert found and {r.integration_id for r in found} == {shop.pk}


def test_it_filters_by_run(seller, journal, shop):
    first = min(r.synced_at for r in journal[:60])
    run = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", started_at=first,
        finished_at=first + timedelta(minutes=4, seconds=30),
    )  # fmt: skip
    found = rows(seller, run=run.pk)
    assert len(found) == 10  # two rows a minute, minutes 0–4
    assert {r.integration_id for r in found} == {shop.pk}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date_from": "2026-05-10", "date_to": "2026-05-01"}, "Data końcowa jest wcześniejsza"),
        ({"currency": "zz1"}, "„ZZ1” nie jest kodem waluty"),
        ({"currency": "ABC"}, "„ABC” nie jest kodem waluty"),
        ({"price_min": "10", "price_max": "5"}, "Cena górna jest niższa"),
        ({"run": "999999"}, "Nie ma przebiegu resynchronizacji nr 999999"),
    ],
)
def test_an_invalid_filter_says_why_and_shows_nothing(seller, journal, params, message):
    response = seller.get(v2("sync_log"), params)
    assert message in html(response)
    assert response.context["rows"] == []


def test_a_known_currency_in_any_case_is_accepted(seller, journal):
    assert {r.currency_sent for r in rows(seller, currency="eur")} == {"EUR"}
    assert timezone.now()
