"""The layout in Chromium on phones (390 px) and in the admin: lists stack, failure messages wrap,
V1's go-back sits with the actions, the admin list fits, offer links are channel links only for
http(s).

Set XSALE_SCREENSHOTS=docs to refresh the README's screenshots while the tests run.
"""

from django.utils import timezone

from integrations.models import DriftItem, DriftListing, Integration, ResyncFailure, ResyncRun
from integrations.services.demo import DEMO_CREDENTIALS
from tests.catalogue import make_offers
from tests.run_records import allegro, run_with_failures
from tests.seller_browser import (
    PHONE,
    assert_no_sideways_scroll,
    browser_marks,
    browser_user,
    screenshot,
)

pytestmark = browser_marks


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
    run = run_with_failures(integration)
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
    run = run_with_failures(integration)
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
