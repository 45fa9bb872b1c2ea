import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from offers.models import Offer, OfferChannel, SiteJournal

pytestmark = pytest.mark.django_db

SECRETS = {
    "client_id": "cid-VISIBLE-NOT",
    "client_secret": "very-secret-value-123",
    "access_token": "access-token-xyz-987",
    "refresh_token": "refresh-token-abc-456",
}


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-boss-123")
    client.force_login(user)
    return client


@pytest.fixture
def catalogue(make_integration):
    integration = make_integration(name="Allegro PL", credentials=dict(SECRETS))
    offer = Offer.objects.create(sku="A1", name="Kubek", price="10.00", stock=1)
    OfferChannel.objects.create(offer=offer, integration=integration, external_id="1")
    SiteJournal.objects.create(offer=offer, integration=integration, status="ok")
    return integration, offer


def test_credentials_are_never_rendered_in_the_admin(staff_client, catalogue):
    integration, _ = catalogue
    for url in (
        reverse("admin:integrations_integration_change", args=[integration.pk]),
        reverse("admin:integrations_integration_changelist"),
    ):
        html = staff_client.get(url).content.decode()
        for value in SECRETS.values():
            assert value not in html


def test_saving_without_retyping_secrets_keeps_them(staff_client, catalogue):
    integration, _ = catalogue
    url = reverse("admin:integrations_integration_change", args=[integration.pk])
    response = staff_client.post(
        url,
        {
            "name": "Allegro PL",
            "channel": "allegro",
            "api_url": integration.api_url,  # a changed URL drops the secrets
            "upload_url": "",
            "auth_url": "",
            "requests_per_minute": "600",
            "active": "on",
            "secret_access_token": "new-access",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    integration.refresh_from_db()
    assert integration.credentials == {**SECRETS, "access_token": "new-access"}
    assert integration.requests_per_minute == 600


def test_a_new_integration_needs_the_channels_credentials(staff_client, settings):
    staff_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = staff_client.post(
        reverse("admin:integrations_integration_add"),
        {"name": "Sklep", "channel": "woocommerce", "api_url": "https://sklep.example.pl"},
    )
    assert response.status_code == 200
    assert "needs this credential" in response.content.decode()


@pytest.mark.parametrize(
    "name",
    [
        "admin:offers_offer_changelist",
        "admin:offers_sitejournal_changelist",
        "admin:integrations_integration_changelist",
        "admin:offers_offer_add",
    ],
)
def test_admin_pages_render_for_staff_and_refuse_anonymous(client, staff_client, catalogue, name):
    url = reverse(name)
    assert staff_client.get(url).status_code == 200
    anonymous = client.__class__()
    response = anonymous.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_offer_change_page_shows_photos_parameters_and_channels(staff_client, catalogue):
    _, offer = catalogue
    html = staff_client.get(reverse("admin:offers_offer_change", args=[offer.pk])).content.decode()
    assert "Allegro PL" in html and "photos-TOTAL_FORMS" in html


def test_sync_log_filters_by_price_range_and_status(staff_client, catalogue):
    integration, offer = catalogue
    other = Offer.objects.create(sku="B2", name="Talerz", price="50.00")
    SiteJournal.objects.filter(offer=offer).update(price_sent="10.00")
    SiteJournal.objects.create(
        offer=other, integration=integration, price_sent="50.00", status="error"
    )
    url = reverse("admin:offers_sitejournal_changelist")
    html = staff_client.get(
        url, {"price_sent__gte": "20", "price_sent__lte": "60"}
    ).content.decode()
    # SKUs are matched as cell contents: a bare "B2" could occur in a CSRF token.
    assert ">B2<" in html and ">A1<" not in html
    html = staff_client.get(url, {"status__exact": "ok"}).content.decode()
    assert ">A1<" in html and ">B2<" not in html
    refused = staff_client.get(url, {"price_sent__gte": "abc"})
    assert refused.status_code == 302 and "e=1" in refused["Location"]


def test_deactivating_in_the_admin_inline_forgets_the_photo_hash(staff_client, catalogue):
    integration, offer = catalogue
    SiteJournal.objects.filter(offer=offer).update(photos_hash="h")
    link = OfferChannel.objects.get()
    data = {
        "sku": "A1",
        "ean": "",
        "name": "Kubek",
        "description": "",
        "price": "10.00",
        "currency": "PLN",
        "stock": "1",
        "photos-TOTAL_FORMS": "0",
        "photos-INITIAL_FORMS": "0",
        "parameters-TOTAL_FORMS": "0",
        "parameters-INITIAL_FORMS": "0",
        "channels-TOTAL_FORMS": "1",
        "channels-INITIAL_FORMS": "1",
        "channels-0-id": str(link.pk),
        "channels-0-offer": str(offer.pk),
        "channels-0-integration": str(integration.pk),
        "channels-0-external_id": "1",
    }
    response = staff_client.post(reverse("admin:offers_offer_change", args=[offer.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert OfferChannel.objects.get().active is False
    assert SiteJournal.objects.get().photos_hash == ""


def test_the_ui_speaks_polish_whatever_the_browser_asks(staff_client):
    html = staff_client.get(
        reverse("admin:integrations_integration_add"), headers={"accept-language": "en-US"}
    ).content.decode()
    assert 'lang="pl"' in html


def test_pages_forbid_scripts_that_are_not_our_own_files(staff_client):
    response = staff_client.get(reverse("admin:offers_offer_changelist"))
    policy = response["Content-Security-Policy"]
    # Our static files only: not 'self', which would include uploaded media.
    assert policy.split("script-src")[1].split(";")[0].split() == [
        "http://testserver/static/",
        "http://testserver/admin/jsi18n/",  # the admin's translations, a view of Django's
    ]
