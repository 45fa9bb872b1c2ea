"""The advice for a listing the channel does not have (404 NOT_FOUND) is one a seller can
follow: the offer's page edits its external ID on that channel, checked the channel's way, and
a retry then sends the offer to the listing entered. Against the sandbox; the form in Chromium
at 1280 px and 390 px."""

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import translation

from integrations.models import ResyncFailure
from integrations.presentation.failures import advice_for
from integrations.services.runs import retry_failed
from offers.models import OfferChannel, SiteJournal
from tests.catalogue import make_offers, sandbox_integration
from tests.run_steps import drain, resynced
from tests.seller_browser import CHROMIUM, a_seller, screenshot, scrolls_sideways


@pytest.fixture(autouse=True)
def one_chunk_per_task(settings):
    settings.RESYNC_TASK_SECONDS = 0


@pytest.fixture
def seller(client):
    user = get_user_model().objects.create_user("seller", password="pw-seller-1")
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "resync_integration",
                "view_integration",
                "view_resyncrun",
                "change_offerchannel",
            ]
        )
    )
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def allegro_gone(sandbox, sandbox_account):
    """Allegro with 3 offers; the listing of the second one is gone from the channel."""
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro", name="Allegro sklep")
    offers = make_offers(allegro, 3, photos=0)
    gone = OfferChannel.objects.get(offer=offers[1], integration=allegro)
    sandbox.configure("allegro", sandbox_account, missing_ids=[gone.external_id])
    return allegro, gone


def edit_url(link):
    return f"/offers/{link.offer_id}/channels/{link.integration_id}/external-id/"


@pytest.mark.django_db
def test_the_not_found_advice_points_at_a_page_that_edits_the_external_id(seller, allegro_gone):
    allegro, gone = allegro_gone
    run = resynced(allegro)
    failure = ResyncFailure.objects.get(run=run)
    assert (failure.offer_id, failure.http_status, failure.code) == (
        gone.offer_id,
        404,
        "NOT_FOUND",
    )
    with translation.override("en"):
        advice = advice_for(failure.code, failure.http_status)
    assert "open the offer" in advice and "external ID in the channel's row" in advice
    # The run page lists the failure with its advice and the SKU linked to the offer page …
    run_page = seller.get(f"/integrations/{allegro.pk}/runs/{run.pk}/").content.decode()
    assert f'href="/offers/{gone.offer_id}/"' in run_page
    # … whose channel row edits the external ID.
    offer_page = seller.get(f"/offers/{gone.offer_id}/").content.decode()
    assert f'action="{edit_url(gone)}"' in offer_page

    answer = seller.post(edit_url(gone), {f"channel-{allegro.pk}-external_id": " 7777000001 "})
    assert answer.status_code == 302
    gone.refresh_from_db()
    assert gone.external_id == "7777000001"
    retry = drain(retry_failed(run, user=None, source="v2"))
    assert (retry.sent, retry.failed) == (1, 0)
    assert SiteJournal.objects.get(offer_id=gone.offer_id, integration=allegro).status == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("abc", "digits only"),
        ("12 34", "digits only"),
        ("0", "digits only"),
        ("", "needs the listing"),
    ],
)
def test_an_allegro_external_id_is_checked_the_channels_way(seller, allegro_gone, value, error):
    allegro, gone = allegro_gone
    before = gone.external_id
    answer = seller.post(edit_url(gone), {f"channel-{allegro.pk}-external_id": value})
    assert answer.status_code == 400
    page = answer.content.decode()
    assert error in page and "was not saved" in page
    gone.refresh_from_db()
    assert gone.external_id == before


@pytest.mark.django_db
def test_two_offers_cannot_share_one_listing(seller, allegro_gone):
    allegro, gone = allegro_gone
    other = OfferChannel.objects.filter(integration=allegro).exclude(pk=gone.pk).first()
    answer = seller.post(edit_url(gone), {f"channel-{allegro.pk}-external_id": other.external_id})
    assert answer.status_code == 400
    assert f"Offer {other.offer.sku} is already linked to this listing" in answer.content.decode()


@pytest.mark.django_db
def test_an_amazon_sku_may_not_be_another_offers_sku(seller, sandbox, sandbox_account):
    amazon = sandbox_integration(sandbox, sandbox_account, "amazon", name="Amazon PL")
    first, second = make_offers(amazon, 2, photos=0)
    OfferChannel.objects.filter(integration=amazon).update(external_id="")
    link = OfferChannel.objects.get(offer=first, integration=amazon)
    field = f"channel-{amazon.pk}-external_id"
    assert seller.post(edit_url(link), {field: second.sku}).status_code == 400
    assert seller.post(edit_url(link), {field: "MY SKU"}).status_code == 400
    assert seller.post(edit_url(link), {field: "A-SKU-1"}).status_code == 302
    assert seller.post(edit_url(link), {field: ""}).status_code == 302  # back to our SKU


@pytest.mark.django_db
def test_editing_needs_the_permission_to_change_an_offers_channels(client, allegro_gone):
    allegro, gone = allegro_gone
    viewer = get_user_model().objects.create_user("viewer", password="pw-viewer-1")
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_integration"))
    client.force_login(viewer)
    assert (
        client.post(edit_url(gone), {f"channel-{allegro.pk}-external_id": "1"}).status_code == 403
    )
    assert "external-id-form" not in client.get(f"/offers/{gone.offer_id}/").content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")
def test_the_offer_page_edits_the_external_id_at_both_widths(allegro_gone, signed_in, width):
    allegro, gone = allegro_gone
    page = signed_in(a_seller(), width)
    page.goto(f"/offers/{gone.offer_id}/")
    row = page.locator(f'tr[data-channel="{allegro.pk}"]')
    field = row.locator("input[name$=external_id]")
    field.fill("oferta-12")
    row.get_by_role("button", name="Zapisz").click()
    page.wait_for_load_state()
    error = page.locator("[data-external-id-error]")
    assert "tylko cyfry" in error.inner_text()
    assert page.locator(".message-error").is_visible()
    assert not scrolls_sideways(page)
    screenshot(page, f"v2-offer-external-id-error-{width}")
    page.locator(f'tr[data-channel="{allegro.pk}"] input[name$=external_id]').fill("7777000002")
    page.locator(f'tr[data-channel="{allegro.pk}"]').get_by_role("button", name="Zapisz").click()
    page.wait_for_load_state()
    assert (
        page.locator(f'tr[data-channel="{allegro.pk}"] input[name$=external_id]').input_value()
        == "7777000002"
    )
    gone.refresh_from_db()
    assert gone.external_id == "7777000002"
    screenshot(page, f"v2-offer-page-{width}")
