"""The integration form shows and keeps only the chosen channel's fields; checks requests/min."""

import pytest
from django.urls import reverse

from integrations.forms import IntegrationForm
from integrations.models import Integration
from tests.page_fixtures import html, make_user, v1, v2

pytestmark = pytest.mark.django_db


def visible_inputs(page: str) -> str:
    """The page without the rows the server hid (another channel's fields)."""
    import re

    chunks = page.split('<div class="field')
    kept = [c for c in chunks[1:] if " hidden>" not in c.split(">", 1)[0] + ">"]
    return re.sub(r"<tr hidden>.*?</tr>", "", chunks[0] + "".join(kept), flags=re.S)


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_woocommerce_shows_only_its_own_urls_and_credentials(seller, shop, layout):
    page = html(seller.get(reverse(f"{layout}:integration_edit", args=[shop.pk])))
    shown = visible_inputs(page)
    assert 'name="secret_consumer_key"' in shown
    assert 'name="secret_client_id"' not in shown
    assert 'name="upload_url"' not in shown and "Serwer Allegro" not in shown
    assert 'data-channels="allegro"' in page  # the script can show them on a channel change
    assert "xsale/channel-fields.js" in page


def test_allegro_shows_its_upload_and_auth_urls(seller, make_integration):
    allegro = make_integration(name="Allegro PL")
    shown = visible_inputs(html(seller.get(v2("integration_edit", allegro.pk))))
    for name in ("upload_url", "auth_url", "secret_client_id", "secret_refresh_token"):
        assert f'name="{name}"' in shown
    assert 'name="secret_consumer_key"' not in shown


def test_the_saved_secret_placeholder_is_short_and_the_hint_is_help_text(shop):
    form = IntegrationForm(instance=shop)
    field = form.fields["secret_consumer_key"]
    assert field.widget.attrs["placeholder"] == "•••••• zapisane"
    assert "zostaw puste" in str(field.help_text)


def form_data(**overrides):
    data = {
        "name": "Sklep Woo",
        "channel": "woocommerce",
        "api_url": "http://127.0.0.1:9/woocommerce/x",
        "upload_url": "http://127.0.0.1:9/allegro/upload",
        "auth_url": "http://127.0.0.1:9/allegro/auth",
        "requests_per_minute": "",
        "active": "on",
        "secret_client_id": "leftover-from-allegro",
    }
    data.update(overrides)
    return data


def test_other_channels_fields_are_cleared_on_save(seller, shop):
    response = seller.post(v2("integration_edit", shop.pk), form_data(api_url=shop.api_url))
    assert response.status_code == 302
    shop.refresh_from_db()
    assert (shop.upload_url, shop.auth_url) == ("", "")
    assert "client_id" not in shop.credentials


@pytest.mark.parametrize(("rpm", "ok"), [("0", False), ("1", True), ("60", True), ("61", False)])
def test_requests_per_minute_stays_within_the_channels_limit(shop, rpm, ok):
    form = IntegrationForm(form_data(requests_per_minute=rpm, api_url=shop.api_url), instance=shop)
    assert form.is_valid() is ok, form.errors


def test_above_the_limit_only_with_the_agreed_limit_box(seller, make_integration):
    allegro = make_integration(name="Allegro PL")
    data = form_data(channel="allegro", name="Allegro PL", requests_per_minute="100000")
    form = IntegrationForm(data, instance=allegro)
    assert not form.is_valid()
    assert "9000" in str(form.errors["requests_per_minute"])
    form = IntegrationForm({**data, "higher_limit_agreed": "on"}, instance=allegro)
    assert form.is_valid(), form.errors
    form.save()
    assert Integration.objects.get(pk=allegro.pk).requests_per_minute == 100000


def test_the_admin_form_tags_channel_fields_too(client, shop):
    client.force_login(make_user("boss", superuser=True))
    page = html(client.get(reverse("admin:integrations_integration_change", args=[shop.pk])))
    assert 'data-channels="allegro"' in page and "xsale/channel-fields.js" in page
    assert 'name="higher_limit_agreed"' in page
    assert v1("integration_edit", shop.pk)


def amazon_data(**overrides):
    data = {
        "name": "Amazon PL",
        "channel": "amazon",
        "api_url": "",
        "auth_url": "",
        "requests_per_minute": "",
        "active": "on",
        "secret_client_id": "amzn1.application-oa2-client.x",
        "secret_client_secret": "amzn1.oa2-cs.v1.secret",
        "secret_refresh_token": "Atzr|refresh",
        "setting_seller_id": "A3SELLER0PL",
    }
    data.update(overrides)
    return data


def test_amazon_defaults_to_the_eu_endpoint_poland_and_keeps_its_settings(settings):
    settings.SITE_URL = "https://xsale.example.pl"
    form = IntegrationForm(amazon_data(setting_product_type="KITCHEN"))
    assert form.is_valid(), form.errors
    amazon = form.save()
    assert amazon.api_url == "https://sellingpartnerapi-eu.amazon.com"
    assert amazon.channel_settings == {
        "seller_id": "A3SELLER0PL",
        "marketplace_id": "A1C3SOZRARQ6R3",
        "language_tag": "pl_PL",
        "product_type": "KITCHEN",
    }
    assert set(amazon.credentials) == {"client_id", "client_secret", "refresh_token"}
    again = IntegrationForm(instance=amazon)
    assert again.initial["setting_seller_id"] == "A3SELLER0PL"  # shown: not a secret


def test_amazon_needs_a_seller_id_and_an_https_public_address(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    form = IntegrationForm(amazon_data(setting_seller_id=""))
    assert not form.is_valid()
    assert "setting_seller_id" in form.errors
    assert "SITE_URL" in " ".join(form.non_field_errors())
    # Against a sandbox host (OUTBOUND_ALLOWED_HOSTS) plain http photos are fine.
    sandbox = amazon_data(
        api_url="http://127.0.0.1:9/amazon/x", auth_url="http://127.0.0.1:9/amazon/x/auth/o2/token"
    )
    assert IntegrationForm(sandbox).is_valid()


def test_amazon_shows_its_settings_and_auth_url_but_not_allegros_upload(seller, make_integration):
    amazon = make_integration(
        name="Amazon PL", channel="amazon", channel_settings={"seller_id": "A3SELLER0PL"}
    )
    shown = visible_inputs(html(seller.get(v2("integration_edit", amazon.pk))))
    for name in ("auth_url", "setting_seller_id", "setting_marketplace_id", "secret_refresh_token"):
        assert f'name="{name}"' in shown
    assert 'name="upload_url"' not in shown and 'name="secret_access_token"' not in shown
