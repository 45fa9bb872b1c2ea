"""Names (an integration's, an offer's) refuse bidi controls and other invisible characters,
with one validator, wherever a name is entered: the pages' form, the admin, the import."""

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from integrations.models import Integration
from offers.models import Offer
from xsale.input import validate_visible_name

pytestmark = pytest.mark.django_db

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "Kubek gpj.exe" shows as "Kubek exe.jpg"
HIDDEN = [RLO, "\u202d", "\u2066", "\u2069", "\u200f", "\u200b", "\u200d", "\ufeff", "\u00ad",
          "\x07", "\u2028", "\ue000"]  # fmt: skip
VISIBLE = ["Sklep Łódź – kubki", "Café au lait 0,5 l", "كوب قهوة", "ספל", "Kubek 🎉", "Zestaw 3×"]


@pytest.mark.parametrize("char", HIDDEN)
def test_a_name_with_an_invisible_or_direction_character_is_refused_naming_it(char):
    with pytest.raises(ValidationError) as refused:
        validate_visible_name(f"Kubek{char}gpj.exe")
    message = refused.value.messages[0]
    assert f"U+{ord(char):04X}" in message and "6" in message  # which, and where


@pytest.mark.parametrize("name", VISIBLE)
def test_names_in_any_script_with_emoji_and_punctuation_are_accepted(name):
    validate_visible_name(name)


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_the_integration_form_refuses_a_bidi_override_in_the_name(seller, shop, layout):
    data = {
        "name": f"Sklep {RLO}ooW",
        "channel": "woocommerce",
        "api_url": shop.api_url,
        "requests_per_minute": "",
        "active": "on",
    }
    response = seller.post(reverse(f"{layout}:integration_edit", args=[shop.pk]), data)

    assert response.status_code == 200  # the form again, with the reason
    page = response.content.decode()
    assert "U+202E" in page and "RIGHT-TO-LEFT OVERRIDE" in page
    assert "niewidoczny" in page  # in Polish, the default language
    assert Integration.objects.get(pk=shop.pk).name == "Sklep Woo"


def test_the_admin_refuses_a_bidi_override_in_an_integrations_and_an_offers_name(
    admin_client, shop
):
    response = admin_client.post(
        reverse("admin:integrations_integration_add"),
        {"name": f"Allegro{RLO}LP", "channel": "allegro", "api_url": "https://api.allegro.pl",
         "requests_per_minute": "", "active": "on"},
    )  # fmt: skip
    assert response.status_code == 200 and "U+202E" in response.content.decode()
    assert not Integration.objects.filter(name__contains=RLO).exists()

    offer = Offer.objects.order_by("pk").first()
    change = reverse("admin:offers_offer_change", args=[offer.pk])
    form = response_form_data(admin_client, change)
    response = admin_client.post(change, {**form, "name": f"Kubek {RLO}gpj.exe"})
    assert response.status_code == 200 and "U+202E" in response.content.decode()
    assert Offer.objects.get(pk=offer.pk).name == offer.name


def response_form_data(client, url) -> dict:
    """The change form's fields as the admin renders them (the offer as it is)."""
    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is not None:
            data[name] = value
    for formset in client.get(url).context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management.initial.get(name, 0)
    return data


def test_the_import_refuses_a_line_whose_name_has_a_bidi_override(tmp_path):
    lines = [
        {"sku": "GOOD-1", "name": "Kubek", "price": "9.99", "stock": 1},
        {"sku": "BAD", "name": f"Kubek {RLO}gpj.exe", "price": "9.99", "stock": 1},
    ]
    path = tmp_path / "offers.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")

    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("import_offers", str(path), language="en", stdout=out, stderr=err)
    report = err.getvalue() + str(failed.value)
    assert "line 2" in report and "U+202E" in report
    assert list(Offer.objects.filter(sku__in=["GOOD-1", "BAD"]).values_list("sku", flat=True)) == [
        "GOOD-1"
    ]
