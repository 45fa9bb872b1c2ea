"""Issue 20, part B, in Chromium at desktop (1280 px) and phone (390 px) widths: the drift
report's dead ends, the confirmation following "what to send", the offer page, the layout on
phones and in the admin, confirmations before partial resyncs, the favicon.

Set XSALE_SCREENSHOTS=docs to refresh the README's screenshots while the tests run.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import DriftItem, DriftListing, Integration, ResyncFailure, ResyncRun
from integrations.services.demo import DEMO_CREDENTIALS
from offers.models import Offer, OfferPhoto, SiteJournal
from tests.catalogue import make_offers, stored_image
from tests.seller_browser import (
    PASSWORD,
    PHONE,
    assert_no_sideways_scroll,
    browser_marks,
    browser_user,
    screenshot,
)

pytestmark = browser_marks


def allegro(name="Allegro sklep", **fields) -> Integration:
    fields.setdefault("api_url", "http://127.0.0.1:9/allegro/test")
    return Integration.objects.create(
        name=name, channel="allegro", credentials=dict(DEMO_CREDENTIALS["allegro"]), **fields
    )


def drift_report(integration) -> ResyncRun:
    """A completed check: 2 offers differ (price), 1 is missing, 1 listing is unknown; a fix
    from it ended with one failure."""
    offers = make_offers(integration, 4, photos=0)
    check = ResyncRun.objects.create(
        integration=integration, source="v2", kind="check", status="completed", total=9,
        processed=9, data_types="all", finished_at=timezone.now(),
        report={"offers": 4, "listings": 4, "listings_total": 4, "compared":
                ["name", "price", "currency", "stock"], "fields": {"price": 2}, "differs": 2,
                "missing": 1, "unknown": 1, "unreadable": False, "full_reads": False},
    )  # fmt: skip
    sent = timezone.now() - timedelta(days=1)
    for offer in offers[:2]:
        DriftItem.objects.create(
            check_run=check, offer=offer, external_id=str(offer.channels.get().external_id),
            kind="differs", fields={"price": {"ours": "1.99", "theirs": "2.49"}},
            last_sent_at=sent,
        )  # fmt: skip
    DriftItem.objects.create(
        check_run=check, offer=offers[2], external_id=offers[2].channels.get().external_id,
        kind="missing",
    )  # fmt: skip
    DriftItem.objects.create(
        check_run=check, external_id="9000001", kind="unknown",
        fields={"name": {"ours": None, "theirs": "Obca oferta"},
                "price": {"ours": None, "theirs": "15.00"},
                "currency": {"ours": None, "theirs": "PLN"}},
    )  # fmt: skip
    DriftListing.objects.create(check_run=check, external_id="9000001", data={"name": "Obca"})
    fix = ResyncRun.objects.create(
        integration=integration, source="v2", status="completed", total=2, processed=2,
        sent=1, failed=1, differing_of=check, finished_at=timezone.now(),
    )  # fmt: skip
    ResyncFailure.objects.create(run=fix, offer=offers[0], http_status=422, message="Zła cena")
    return check


# --- 5. The drift report's dead ends --------------------------------------------------------


def test_the_drift_report_says_what_a_fix_cannot_do_and_links_the_listings(signed_in, width):
    integration = allegro()
    check = drift_report(integration)
    page = signed_in(browser_user(f"ewa{width}"), width)
    page.goto(f"/integrations/{integration.pk}/drift/{check.pk}/")
    missing = page.locator("[data-missing-note]")
    assert "nie przywróci" in missing.inner_text()  # a resync cannot bring it back
    assert missing.locator("[data-missing-csv]").get_attribute("href").endswith("?kind=missing")
    assert page.locator("[data-unknown-csv]").get_attribute("href").endswith("?kind=unknown")
    # The fix sends only what differs: 2 offers, not the missing one.
    assert "2 oferty różnią się" in page.inner_text(".drift-fix")
    link = page.locator("tr.drift-unknown [data-listing-link]")
    assert link.get_attribute("href") == "https://allegro.pl/oferta/9000001"
    # Prices with their currency, ours and theirs.
    prices = page.locator(".drift-table td.drift-ours").first.inner_text()
    assert prices == "1,99 PLN"  # Polish decimals, as on every page
    assert page.locator(".drift-table td.drift-theirs").first.inner_text() == "2,49 PLN"
    # The footer: the fix's honest outcome, linked.
    fix = check.fixes.get()
    footer = page.locator(f"[data-fixes] [data-fix='{fix.pk}']")
    assert "zakończona z błędami" in footer.inner_text()
    assert "1 z 2 ofert wysłano, 1 nieudanych" in footer.inner_text()
    assert footer.locator("a").get_attribute("href") == (
        f"/integrations/{integration.pk}/runs/{fix.pk}/"
    )
    assert_no_sideways_scroll(page)
    screenshot(page, f"v2-drift-report-{width}")


# --- 6. The confirmation follows "what to send" ----------------------------------------------


def test_the_confirmation_shows_the_estimate_and_photos_of_the_choice(signed_in, width):
    # The integration's own limit counts photo uploads: prices and stock cost a third.
    integration = allegro(requests_per_minute=60)
    make_offers(integration, 40, photos=2)
    page = signed_in(browser_user(f"ola{width}"), width)
    page.goto(f"/integrations/{integration.pk}/resync/")
    visible = page.locator("[data-estimate-for]:visible")
    assert visible.count() == 1 and visible.get_attribute("data-estimate-for") == "all"
    everything = visible.inner_text()
    assert page.locator("[data-photos-for]:visible").inner_text() == "wszystkie zdjęcia ponownie"
    page.check("input[name=data_types][value=prices_stock]")
    visible = page.locator("[data-estimate-for]:visible")
    assert visible.get_attribute("data-estimate-for") == "prices_stock"
    assert visible.inner_text() != everything  # 40 requests, not 120
    assert page.locator("[data-photos-for]:visible").inner_text() == "bez zdjęć"
    # Nothing cut: the estimate fits its cell, each radio sits on its label's line.
    cell = page.locator("td[data-estimate]")
    assert cell.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    for option in page.locator(".data-choice-option").all():
        radio = option.locator("input").bounding_box()
        label = option.locator(".data-choice-label").bounding_box()
        assert abs((radio["y"] + radio["height"] / 2) - (label["y"] + 10)) < 10
    assert_no_sideways_scroll(page)
    screenshot(page, f"v2-resync-confirm-choice-{width}")


def test_without_javascript_the_page_shows_the_choice_in_its_url(chromium, live_server):
    integration = allegro(requests_per_minute=60)
    make_offers(integration, 40, photos=2)
    browser_user("bez_js")
    context = chromium.new_context(java_script_enabled=False, base_url=live_server.url)
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", "bez_js")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click('form[action="/login/"] button[type=submit]')
    page.goto(f"/integrations/{integration.pk}/resync/?data_types=prices_stock")
    visible = page.locator("[data-estimate-for]:visible")
    assert visible.get_attribute("data-estimate-for") == "prices_stock"
    assert page.locator("input[value=prices_stock]").is_checked()
    context.close()


# --- 13. Partial resyncs ask first ------------------------------------------------------------


def failed_run(integration) -> ResyncRun:
    offers = make_offers(integration, 5, photos=0)
    run = ResyncRun.objects.create(
        integration=integration, source="v2", status="completed", total=5, processed=5,
        sent=2, failed=3, finished_at=timezone.now(),
    )  # fmt: skip
    for n, offer in enumerate(offers[:3]):
        ResyncFailure.objects.create(
            run=run, offer=offer, http_status=422, code="ean" if n else "price",
            message="Zły EAN, bardzo długi komunikat kanału, który musi się zawijać w wąskiej "
            "kolumnie na telefonie zamiast uciekać poza ekran" if n else "Zła cena",
        )  # fmt: skip
    return run


@pytest.mark.parametrize("button", ["[data-retry-button]", "tr[data-group] [data-retry-group]"])
def test_retry_asks_first_then_starts(signed_in, button):
    integration = allegro()
    run = failed_run(integration)
    page = signed_in(browser_user("piotr"))
    page.goto(f"/integrations/{integration.pk}/runs/{run.pk}/")
    page.locator(button).first.click()
    page.wait_for_selector("[data-confirm-part]")
    assert ResyncRun.objects.count() == 1  # nothing started yet
    text = page.inner_text("[data-confirm-part]")
    assert "duży ruch" in text and "około" in text
    with page.expect_navigation():
        page.click("[data-confirm-start]")
    retry = ResyncRun.objects.exclude(pk=run.pk).get()
    assert retry.retry_of == run and retry.total in (1, 2, 3)


def test_resync_only_what_differs_asks_first(signed_in):
    integration = allegro()
    check = drift_report(integration)
    check.fixes.all().delete()
    page = signed_in(browser_user("marta"))
    page.goto(f"/integrations/{integration.pk}/drift/{check.pk}/")
    page.check(".drift-fix input[value=prices_stock]")
    page.click("[data-drift-fix]")
    page.wait_for_selector("[data-confirm-part]")
    assert not check.fixes.exists()
    assert page.locator("input[value=prices_stock]").is_checked()
    assert "2 oferty" in page.inner_text("[data-confirm-start]")
    with page.expect_navigation():
        page.click("[data-confirm-start]")
    fix = check.fixes.get()
    assert (fix.total, fix.data_types) == (2, "prices_stock")


def test_the_pages_have_a_favicon(signed_in):
    page = signed_in(browser_user("fav"))
    for url in ("/integrations/", "/admin/"):
        page.goto(url)
        href = page.locator("link[rel=icon]").get_attribute("href")
        assert page.request.get(href).headers["content-type"].startswith("image/svg")


# --- 7. The offer page --------------------------------------------------------------------------


def test_a_failed_offer_opens_its_page(signed_in, width):
    integration = allegro()
    run = failed_run(integration)
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


# --- 12. Layout ---------------------------------------------------------------------------------


def test_the_integration_list_shows_the_result_on_a_phone(signed_in):
    integration = allegro(name="Allegro — sklep z bardzo długą nazwą integracji")
    ResyncRun.objects.create(
        integration=integration, source="v2", status="completed", total=30, processed=30,
        sent=27, failed=3, finished_at=timezone.now(),
    )  # fmt: skip
    page = signed_in(browser_user("tel"), PHONE)
    page.goto("/integrations/")
    badge = page.locator(".status").first
    box = badge.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE  # on the screen, no scrolling
    assert badge.inner_text() == "zakończona z błędami"
    row = page.locator(".integration-list tbody tr").first
    labels = row.evaluate("tr => [...tr.cells].map(td => getComputedStyle(td, '::before').content)")
    assert '"Ostatnia resynchronizacja: "' in labels and '"Wynik: "' in labels  # not a bare date
    assert_no_sideways_scroll(page)
    screenshot(page, "phone-integration-list")


def test_the_v1_integration_list_stacks_on_a_phone(signed_in):
    integration = allegro(name="Allegro — sklep z bardzo długą nazwą integracji")
    run = failed_run(integration)
    ResyncRun.objects.create(
        integration=integration, source="v1", status="completed", total=run.failed,
        processed=run.failed, sent=1, failed=run.failed - 1, retry_of=run,
        finished_at=timezone.now(),
    )  # fmt: skip
    ResyncRun.objects.create(
        integration=integration, source="v1", kind="check", status="completed",
        data_types="all", finished_at=timezone.now(), report={"differs": 2, "missing": 1},
    )  # fmt: skip
    allegro(name="Allegro zapasowe", active=False)
    page = signed_in(browser_user("v1tel"), PHONE)
    page.goto("/v1/konfiguracja/ogolne/integracje/")
    assert_no_sideways_scroll(page)
    table = page.locator(".v1-integration-list")
    assert table.evaluate("el => el.scrollWidth <= el.clientWidth + 1")  # nothing hidden aside
    row = page.locator(".v1-integration-list tbody tr", has_text="długą nazwą")
    for cell in (".status", "[data-retry-line]", "[data-last-check-link]", "a >> text=[edytuj]"):
        box = row.locator(cell).first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE, cell  # on the screen
    labels = row.evaluate("tr => [...tr.cells].map(td => getComputedStyle(td, '::before').content)")
    assert '"Aktywna: "' in labels and '"Wynik: "' in labels  # each value says what it is
    screenshot(page, "phone-v1-integration-list")


def test_failure_messages_wrap_on_a_phone(signed_in):
    integration = allegro()
    run = failed_run(integration)
    for offer in make_offers(integration, 2, photos=0, prefix="G"):  # a long code, advice
        ResyncFailure.objects.create(
            run=run, offer=offer, http_status=404, code="NOT_FOUND",
            message=f"Offer {offer.channels.get().external_id} not found (offerId)",
        )  # fmt: skip
    page = signed_in(browser_user("zawijanie"), PHONE)
    page.goto(f"/integrations/{integration.pk}/runs/{run.pk}/")
    for cell in page.locator(".failure-list .message-cell").all():
        assert cell.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
        box = cell.bounding_box()
        assert box["x"] + box["width"] <= PHONE
    # The reasons stack too: each reason's "Retry these" whole on the screen, nothing aside.
    for box in page.locator(".table-scroll").all():
        assert box.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    for button in page.locator("[data-retry-group]").all():
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE
    assert_no_sideways_scroll(page)


def test_v1_go_back_is_with_the_actions_at_the_bottom(signed_in):
    integration = allegro()
    make_offers(integration, 3, photos=0)
    page = signed_in(browser_user("v1"))
    page.goto(f"/v1/konfiguracja/ogolne/integracje/{integration.pk}/resync/")
    back = page.locator(".confirm-actions a").bounding_box()
    start = page.locator(".confirm-actions button[type=submit]").bounding_box()
    choice = page.locator(".data-choice").bounding_box()
    assert back["y"] >= choice["y"] + choice["height"]  # below the choice, not beside it
    assert abs(back["y"] - start["y"]) < 8  # on the actions' row
    screenshot(page, "v1-resync-confirm")


def test_the_admin_list_fits_and_its_drift_button_is_styled(signed_in):
    integration = allegro(
        name="Allegro", api_url="https://api.allegro.pl.example.com/a/very/long/path/to/the/api"
    )
    page = signed_in(browser_user("admin", superuser=True))
    page.goto("/admin/integrations/integration/")
    results = page.locator("#changelist .results")
    assert results.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    assert_no_sideways_scroll(page)
    page.goto(f"/admin/integrations/integration/{integration.pk}/change/")
    button = page.locator("[data-drift-button]")
    link = page.locator("[data-resync-button]")
    style = "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).textTransform]"
    assert button.evaluate(style) == link.evaluate(style)
    # django-q2's task admin is the operator's: a seller does not see it.
    seller = signed_in(browser_user("sprzedawca"))
    seller.goto("/admin/")
    assert "django_q" not in seller.content()
    assert seller.goto("/admin/django_q/failure/").status == 403


def test_offer_links_are_channel_links_only_for_http(signed_in):
    shop = Integration.objects.create(
        name="Sklep", channel="woocommerce", api_url="http://127.0.0.1:9/woocommerce/shop",
        credentials=dict(DEMO_CREDENTIALS["woocommerce"]),
    )  # fmt: skip
    check = ResyncRun.objects.create(
        integration=shop, source="v2", kind="check", status="completed",
        report={"offers": 0, "listings": 2, "compared": ["price"], "fields": {}, "differs": 0,
                "missing": 0, "unknown": 2, "unreadable": False},
    )  # fmt: skip
    for key, permalink in (("11", "javascript:alert(1)"), ("12", "https://sklep.example/p/12")):
        DriftItem.objects.create(check_run=check, external_id=key, kind="unknown")
        DriftListing.objects.create(check_run=check, external_id=key, data={"permalink": permalink})
    page = signed_in(browser_user("woo"))
    page.goto(f"/integrations/{shop.pk}/drift/{check.pk}/")
    hrefs = [a.get_attribute("href") for a in page.locator("[data-listing-link]").all()]
    assert hrefs == [
        "http://127.0.0.1:9/woocommerce/shop/wp-admin/post.php?post=11&action=edit",
        "https://sklep.example/p/12",
    ]
