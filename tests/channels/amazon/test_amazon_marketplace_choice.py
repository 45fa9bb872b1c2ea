"""Amazon's marketplace is chosen by country from Amazon's published list, not typed as a raw
id; a saved id the list does not have stays selectable as it is."""

import pytest
from django.urls import reverse

from integrations.forms import IntegrationForm
from integrations.saleschannels.amazon.descriptor import AMAZON_MARKETPLACE_IDS, AMAZON_POLAND
from tests.page_fixtures import html

pytestmark = pytest.mark.django_db


def amazon_data(**overrides):
    data = {
        "name": "Amazon",
        "channel": "amazon",
        "api_url": "http://127.0.0.1:9/amazon/x",
        "auth_url": "http://127.0.0.1:9/amazon/x/auth/o2/token",
        "active": "on",
        "setting_seller_id": "A3SELLER0PL",
        "setting_marketplace_id": AMAZON_POLAND,
        "secret_client_id": "id",
        "secret_client_secret": "secret",
        "secret_refresh_token": "refresh",
    }
    data.update(overrides)
    return data


def test_the_marketplace_is_a_select_of_countries_by_name(seller, make_integration):
    amazon = make_integration(
        name="Amazon DE",
        channel="amazon",
        channel_settings={"seller_id": "A3S", "marketplace_id": "A1PA6795UKMFR9"},
    )
    page = html(seller.get(reverse("v2:integration_edit", args=[amazon.pk])))
    select = page.split('name="setting_marketplace_id"')[1].split("</select>")[0]
    assert '<option value="A1PA6795UKMFR9" selected>Niemcy (amazon.de)</option>' in select
    assert f'<option value="{AMAZON_POLAND}">Polska (amazon.pl)</option>' in select
    assert '<optgroup label="Europa">' in select
    assert 'type="text"' not in page.split('name="setting_marketplace_id"')[0][-200:]


def test_the_list_holds_amazons_published_ids():
    # developer-docs.amazon.com/sp-api/docs/marketplace-ids (docs/channels/amazon.md)
    assert {AMAZON_POLAND, "A1PA6795UKMFR9", "A1F83G8C2ARO7P", "ATVPDKIKX0DER"} <= (
        AMAZON_MARKETPLACE_IDS
    )
    assert len(AMAZON_MARKETPLACE_IDS) == 23


def test_a_saved_id_not_in_the_list_is_kept_and_shown(settings, make_integration):
    settings.SITE_URL = "https://xsale.example.pl"
    amazon = make_integration(
        name="Amazon X",
        channel="amazon",
        api_url="http://127.0.0.1:9/amazon/x",
        auth_url="http://127.0.0.1:9/amazon/x/auth/o2/token",
        credentials={"client_id": "id", "client_secret": "s", "refresh_token": "r"},
        channel_settings={"seller_id": "A3S", "marketplace_id": "A2NEWMARKET"},
    )
    form = IntegrationForm(instance=amazon)
    rendered = str(form["setting_marketplace_id"])
    assert '<option value="A2NEWMARKET" selected>A2NEWMARKET (zapisany; spoza listy Amazon)' in (
        rendered
    )
    data = amazon_data(name="Amazon X", setting_marketplace_id="A2NEWMARKET")
    form = IntegrationForm(data, instance=amazon)
    assert form.is_valid(), form.errors
    assert form.save().channel_settings["marketplace_id"] == "A2NEWMARKET"


def test_an_id_typed_in_that_is_not_amazons_is_refused(settings):
    settings.SITE_URL = "https://xsale.example.pl"
    form = IntegrationForm(amazon_data(setting_marketplace_id="XX-MADE-UP"))
    assert not form.is_valid()
    assert form.errors["setting_marketplace_id"] == ["Wybierz rynek z listy."]
    assert IntegrationForm(amazon_data(setting_marketplace_id="A1PA6795UKMFR9")).is_valid()


def test_a_new_amazon_integration_starts_on_poland(adder):
    page = html(adder.get(reverse("v2:integration_add"), {"channel": "amazon"}))
    assert f'<option value="{AMAZON_POLAND}" selected>Polska (amazon.pl)</option>' in page
