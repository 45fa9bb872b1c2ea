"""The offer page in Chromium: a failed offer opens it, the sync log links it.

Set XSALE_SCREENSHOTS=docs to refresh the README's screenshots while the tests run.
"""

from django.utils import timezone

from offers.models import Offer, OfferPhoto, SiteJournal
from tests.catalogue import make_offers, stored_image
from tests.run_records import allegro, run_with_failures
from tests.seller_browser import (
    assert_no_sideways_scroll,
    browser_marks,
    browser_user,
    screenshot,
)

pytestmark = browser_marks


# --- 7. The offer page --------------------------------------------------------------------------


def test_a_failed_offer_opens_its_page(signed_in, width):
    integration = allegro()
    run = run_with_failures(integration)
    offer = Offer.objects.get(pk=run.failures.order_by("offer_id").first().offer_id)
    offer.description = "<p>Dobry kubek</p><img src=x onerror=\"document.title='hacked'\">"
    offer.save()
    name, sha = stored_image()
    for position in range(2):
        OfferPhoto.objects.create(
            offer=offer, image=name, sha256=sha, content_type="image/jpeg", position=position
        )
    SiteJournal.objects.create(
        offer=offer, integration=integration, status="error", message="Zła cena",
        synced_at=timezone.now(), price_sent="1.99", currency_sent="PLN", stock_sent=3,
    )  # fmt: skip
    page = signed_in(browser_user(f"jan{width}"), width)
    page.goto(f"/integrations/{integration.pk}/runs/{run.pk}/")
    with page.expect_navigation():
        page.locator(f"tr[data-failure='{offer.pk}'] [data-offer-link]").click()
    assert page.url.endswith(f"/offers/{offer.pk}/")
    assert page.inner_text("[data-offer-sku]") == offer.sku
    assert page.inner_text("[data-offer-price]") == "1,99 PLN"  # Polish decimals
    assert "Dobry kubek" in page.inner_text("[data-offer-description]")
    assert page.locator("[data-offer-description] img").count() == 0
    assert page.title() != "hacked"
    row = page.locator(f"tr[data-channel='{integration.pk}']")
    assert "Zła cena" in row.inner_text() and "1,99 PLN" in row.inner_text()
    failure = page.locator(f"tr[data-offer-failure='{run.pk}'] a")
    assert failure.get_attribute("href") == f"/integrations/{integration.pk}/runs/{run.pk}/"
    assert_no_sideways_scroll(page)
    screenshot(page, f"v2-offer-page-{width}")
    photos = page.locator("[data-offer-photo]")
    assert photos.count() == 2
    assert photos.first.evaluate("img => img.complete && img.naturalWidth > 0")


def test_the_sync_log_links_the_offer_page(signed_in):
    integration = allegro()
    offer = make_offers(integration, 1, photos=0)[0]
    SiteJournal.objects.create(offer=offer, integration=integration, synced_at=timezone.now())
    page = signed_in(browser_user("logi"))
    page.goto("/sync-log/")
    with page.expect_navigation():
        page.click(f"tr >> [data-offer-link] >> text={offer.sku}")
    assert page.url.endswith(f"/offers/{offer.pk}/")
