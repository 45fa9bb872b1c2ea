"""Adding an integration on the V1 and V2 pages, with the form the edit pages use: the channel
first, then its own fields; messages name the channel by its label."""

import pytest
from django.urls import reverse

from integrations.forms import IntegrationForm
from integrations.models import Integration
from tests.form_fixtures import shown_inputs
from tests.page_fixtures import html

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_the_list_offers_to_add_an_integration(adder, layout):
    page = html(adder.get(reverse(f"{layout}:integration_list")))
    assert "Dodaj integrację" in page
    assert f'href="{reverse(f"{layout}:integration_add")}"' in page


def test_without_the_add_permission_there_is_no_button_and_no_page(seller):
    assert "Dodaj integrację" not in html(seller.get(reverse("v2:integration_list")))
    assert seller.get(reverse("v2:integration_add")).status_code == 403


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_the_channel_is_chosen_first_then_its_fields_are_shown(adder, layout):
    url = reverse(f"{layout}:integration_add")
    first = html(adder.get(url))
    assert 'href="?channel=amazon"' in first and 'name="secret_client_id"' not in first
    page = html(adder.get(url, {"channel": "woocommerce"}))
    assert '<option value="woocommerce" selected>' in page
    shown = shown_inputs(page)
    assert 'name="secret_consumer_key"' in shown
    # The channel comes first in the form; another channel's fields start hidden.
    assert page.index('name="channel"') < page.index('name="name"')
    assert 'name="upload_url"' in page and 'name="upload_url"' not in shown
    assert 'name="secret_client_id"' not in shown
    assert "xsale/channel-fields.js" in page  # shows them when another channel is chosen


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_a_new_integration_is_saved_with_its_secrets_and_opens_its_page(adder, layout):
    response = adder.post(
        reverse(f"{layout}:integration_add") + "?channel=woocommerce",
        {
            "name": "Nowy sklep",
            "channel": "woocommerce",
            "api_url": "http://127.0.0.1:9/woocommerce/nowy",
            "active": "on",
            "secret_consumer_key": "ck_new",
            "secret_consumer_secret": "cs_new",
        },
    )
    integration = Integration.objects.get(name="Nowy sklep")
    assert response.status_code == 302
    assert response["Location"] == reverse(f"{layout}:integration_edit", args=[integration.pk])
    assert integration.credentials == {"consumer_key": "ck_new", "consumer_secret": "cs_new"}
    assert "Dodano integrację Nowy sklep" in html(adder.get(response["Location"]))


def test_a_missing_credential_names_the_channel_by_its_label(adder):
    response = adder.post(
        reverse("v2:integration_add"),
        {"name": "Amazon PL", "channel": "amazon", "setting_seller_id": "A3SELLER"},
    )
    page = html(response)
    assert "Amazon wymaga tej danej dostępowej." in page
    assert "amazon wymaga" not in page
    assert not Integration.objects.exists()


def test_the_credential_message_in_english_names_the_label_too(settings):
    from django.utils import translation

    with translation.override("en"):
        form = IntegrationForm(
            {"name": "Z", "channel": "zalando", "api_url": "http://127.0.0.1:9/z"}
        )
        assert not form.is_valid()
        assert form.errors["secret_client_id"] == ["Zalando needs this credential."]
