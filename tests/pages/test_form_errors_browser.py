"""Form pages in Chromium (Polish, 1280 and 390 px): a form that does not save says so at the
top, focused, with links to the fields, keeps what was typed and says that secrets must be typed
again; adding an integration chooses the channel first and shows its fields.

XSALE_SCREENSHOTS=docs refreshes the pictures in docs/.
"""

import pytest

from integrations.models import Integration
from tests.form_fixtures import SELLER_PERMISSIONS
from tests.page_fixtures import make_user
from tests.seller_browser import DESKTOP, PASSWORD, PHONE, assert_no_sideways_scroll, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOP_SECRETS = {"consumer_key": "ck_SECRET-shop-1", "consumer_secret": "cs_SECRET-shop-2"}


@pytest.fixture
def woo_shop(db):
    return Integration.objects.create(
        name="Sklep Woo",
        channel="woocommerce",
        api_url="http://127.0.0.1:9/woocommerce/shop",
        credentials=dict(SHOP_SECRETS),
    )


def seller_user(name):
    return make_user(name, *SELLER_PERMISSIONS, password=PASSWORD)


def assert_banner_on_top_and_focused(page):
    banner = page.locator("[data-form-errors]")
    assert banner.is_visible()
    assert page.evaluate("document.activeElement.hasAttribute('data-form-errors')")
    box = banner.bounding_box()
    assert box["y"] + box["height"] <= page.viewport_size["height"], "the banner is below the fold"
    return banner


@pytest.mark.parametrize(
    "url", ["/integrations/{pk}/", "/v1/konfiguracja/ogolne/integracje/{pk}/"], ids=["v2", "v1"]
)
def test_a_form_that_does_not_save_says_what_to_fix_at_the_top(signed_in, woo_shop, width, url):
    page = signed_in(seller_user(f"ola{width}"), width)
    page.goto(url.format(pk=woo_shop.pk))
    page.fill("input[name=name]", "Sklep Woo – nowa nazwa")
    page.fill("input[name=api_url]", "http://10.1.2.3/woocommerce/shop")  # a private address
    page.fill("input[name=secret_consumer_secret]", "cs_typed-just-now")
    with page.expect_navigation():
        page.click("form:has(input[name=name]) button[type=submit]")
    banner = assert_banner_on_top_and_focused(page)
    assert "Nie zapisano" in banner.inner_text()
    assert "poza sekretami" in banner.inner_text()
    # Each line links its field, which the link brings into view.
    link = banner.locator("a[data-error-link=id_api_url]")
    assert link.is_visible()
    link.click()
    assert page.locator("#id_api_url").is_visible()
    assert page.locator("#id_api_url").evaluate(
        "el => { const r = el.getBoundingClientRect(); "
        "return r.bottom > 0 && r.top < innerHeight; }"
    )
    # Nothing typed is lost, but the secret: never rendered back, and it says so beside it.
    assert page.input_value("input[name=name]") == "Sklep Woo – nowa nazwa"
    assert page.input_value("input[name=api_url]") == "http://10.1.2.3/woocommerce/shop"
    assert page.input_value("input[name=secret_consumer_secret]") == ""
    assert "cs_typed-just-now" not in page.content()
    secret_row = page.locator("input[name=secret_consumer_secret]").locator(
        "xpath=ancestor::*[self::div[contains(@class,'field')] or self::tr][1]"
    )
    assert "nie została zachowana" in secret_row.inner_text()
    assert_no_sideways_scroll(page)
    woo_shop.refresh_from_db()
    assert woo_shop.name == "Sklep Woo" and woo_shop.credentials == SHOP_SECRETS
    if url.startswith("/integrations/"):
        screenshot(page, f"v2-integration-form-errors-{width}")


@pytest.mark.parametrize(
    "url", ["/integrations/", "/v1/konfiguracja/ogolne/integracje/"], ids=["v2", "v1"]
)
def test_adding_an_integration_chooses_the_channel_first_then_its_fields(signed_in, width, url):
    page = signed_in(seller_user(f"iza{width}"), width)
    page.goto(url)
    page.click("[data-add-integration]")
    assert page.locator("input[name=secret_client_id]").count() == 0  # no channel yet
    page.click("[data-channel-choice] [data-channel=zalando]")
    assert page.locator("input[name=secret_merchant_id]").is_visible()
    assert not page.locator("input[name=secret_consumer_key]").is_visible()
    assert not page.locator("input[name=upload_url]").is_visible()
    page.fill("input[name=name]", "Zalando PL")
    page.fill("input[name=api_url]", "http://127.0.0.1:9/zalando/pl")
    page.fill("input[name=secret_client_secret]", "zal-secret")
    page.fill("input[name=secret_merchant_id]", "merchant-1")
    page.fill("input[name=secret_sales_channel_id]", "channel-1")
    if url.startswith("/integrations/") and width == DESKTOP:
        screenshot(page, "v2-integration-add-1280")
    with page.expect_navigation():
        page.click("[data-add-form] button[type=submit]")
    # The client ID is missing: the banner names the field, the rest is kept.
    banner = assert_banner_on_top_and_focused(page)
    assert "Identyfikator klienta" in banner.inner_text() or "Client ID" in banner.inner_text()
    assert "Zalando wymaga tej danej dostępowej" in banner.inner_text()
    assert page.input_value("input[name=name]") == "Zalando PL"
    assert page.input_value("input[name=secret_merchant_id]") == ""
    assert_no_sideways_scroll(page)
    if url.startswith("/integrations/"):
        screenshot(page, f"v2-integration-add-errors-{width}")
    page.fill("input[name=secret_client_id]", "zal-id")
    page.fill("input[name=secret_client_secret]", "zal-secret")
    page.fill("input[name=secret_merchant_id]", "merchant-1")
    page.fill("input[name=secret_sales_channel_id]", "channel-1")
    with page.expect_navigation():
        page.click("[data-add-form] button[type=submit]")
    added = Integration.objects.get(name="Zalando PL")
    assert page.url.rstrip("/").endswith(str(added.pk))
    assert "Dodano integrację Zalando PL" in page.inner_text(".messages")
    assert set(added.credentials) == {
        "client_id",
        "client_secret",
        "merchant_id",
        "sales_channel_id",
    }
    if url.startswith("/integrations/") and width == PHONE:
        page.goto("/integrations/new/?channel=amazon")
        screenshot(page, "v2-integration-add-amazon-390")


def test_impossible_sync_log_filters_say_why_and_keep_the_values(signed_in, woo_shop, width):
    allegro = Integration.objects.create(
        name="Allegro PL", channel="allegro", api_url="http://127.0.0.1:9/allegro/a"
    )
    page = signed_in(seller_user(f"jan{width}"), width)
    page.goto("/sync-log/")
    page.select_option("select[name=channel]", "woocommerce")
    page.select_option("select[name=integration]", str(allegro.pk))
    page.fill("input[name=date_from]", "2026-05-10")
    page.fill("input[name=date_to]", "2026-05-01")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    banner = page.locator("[data-form-errors]")
    assert banner.is_visible()
    text = banner.inner_text()
    assert "Allegro PL to integracja Allegro, nie WooCommerce" in text
    assert "Data końcowa jest wcześniejsza niż początkowa" in text
    box = banner.bounding_box()
    assert box["y"] + box["height"] <= page.viewport_size["height"]
    assert page.input_value("select[name=channel]") == "woocommerce"
    assert page.input_value("select[name=integration]") == str(allegro.pk)
    assert page.input_value("input[name=date_from]") == "2026-05-10"
    assert page.input_value("input[name=date_to]") == "2026-05-01"
    assert_no_sideways_scroll(page)
    screenshot(page, f"v2-sync-log-impossible-filters-{width}")


def test_the_admin_confirmation_says_a_run_is_going_and_links_it(signed_in, woo_shop, width):
    from integrations.models import ResyncRun

    run = ResyncRun.objects.create(
        integration=woo_shop, source="v2", status="running", processed=1200, total=3000
    )
    boss = make_user(f"szef{width}", superuser=True, password=PASSWORD)
    page = signed_in(boss, width)
    page.goto(f"/admin/integrations/integration/{woo_shop.pk}/resync/")
    notice = page.locator("[data-already-running]")
    assert "Resynchronizacja już trwa" in notice.inner_text()
    assert "1\u00a0200 z 3\u00a0000 ofert gotowe" in notice.inner_text()
    assert page.locator("input[type=submit][value='Tak, uruchom resynchronizację']").count() == 0
    with page.expect_navigation():
        notice.locator(f"[data-run-progress='{run.pk}']").click()
    assert page.url.endswith(f"/integrations/{woo_shop.pk}/runs/{run.pk}/")
    if width == DESKTOP:
        page.goto(f"/admin/integrations/integration/{woo_shop.pk}/resync/")
        screenshot(page, "admin-resync-confirm-already-running")
