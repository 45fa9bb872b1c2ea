"""The resync as a seller sees it: headless Chromium against the live server, a real resync
worker (`Q_CLUSTER_NAME=resync qcluster`) and the channel sandbox."""

from pathlib import Path

import pytest

from integrations.models import ResyncRun
from tests.catalogue import make_offers, sandbox_integration
from tests.seller_browser import CHROMIUM, PASSWORD, TIMEOUT_MS, browser_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
def log_in(chromium, live_server):
    contexts = []

    def log_in(user):
        context = chromium.new_context(locale="pl-PL", base_url=live_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto("/")
        assert "/login/" in page.url
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click('form[action="/login/"] button[type=submit]')
        return page

    yield log_in
    for context in contexts:
        context.close()


@pytest.fixture
def shop(sandbox, sandbox_account):
    """A WooCommerce sandbox account with 30 offers; each answer takes a while, so that the
    page is there before the run ends and the panel is seen moving."""
    integration = sandbox_integration(
        sandbox, sandbox_account, "woocommerce", name="Sklep Woo", requests_per_minute=60
    )
    make_offers(integration, 30, photos=1)
    sandbox.configure("woocommerce", sandbox_account, latency_ms=2500)
    return integration


def panel_stat(page, field):
    return page.locator(f".resync-panel [data-field={field}]").first.inner_text()


def watch_until_completed(page, worker):
    """The panel polls while the run is active and the page reloads itself when it ends."""
    try:
        # Rendered by the server after the page reloaded itself: the run has ended.
        page.wait_for_selector(
            ".resync-panel[data-active=false] [data-status=completed]", state="attached"
        )
    except Exception:
        raise AssertionError(worker.output()[-3000:]) from None
    assert float(page.locator(".resync-panel progress").get_attribute("value")) == 100
    assert panel_stat(page, "percent_display") == "100"
    assert panel_stat(page, "processed") == "30"
    assert panel_stat(page, "total") == "30"
    assert panel_stat(page, "sent") == "30"
    assert panel_stat(page, "failed") == "0"
    # "Wysłane zdjęcia" counts photo files (first time on WooCommerce: every photo is new).
    assert panel_stat(page, "photo_files_sent") == str(ResyncRun.objects.get().photo_files_sent)


def confirm_the_warning(page):
    warning = page.locator(".resync-warning")
    assert "duży ruch" in warning.inner_text()
    assert "30 ofert" in page.locator(".resync-targets").inner_text()
    with page.expect_navigation():
        page.click("text=Tak, uruchom resynchronizację")


def test_from_v2_a_seller_confirms_and_watches_the_bar_reach_100(
    log_in, shop, resync_worker, sandbox, sandbox_account
):
    page = log_in(browser_user("anna"))
    page.click("nav >> text=Integracje")
    page.click("text=Sklep Woo")
    page.click(".page-head .actions >> text=Resynchronizuj oferty")
    confirm_the_warning(page)
    assert "możesz zamknąć przeglądarkę" in page.locator(".messages").inner_text()
    # The page shows the run while it is in progress, and polls.
    assert page.locator(".resync-panel").get_attribute("data-active") == "true"
    seen_moving = page.wait_for_selector(
        ".resync-panel [data-status=running], .resync-panel [data-status=completed]"
    )
    assert seen_moving
    watch_until_completed(page, resync_worker)
    run = ResyncRun.objects.get()
    assert (run.source, run.status, run.sent, run.requested_by.username) == (
        "v2", "completed", 30, "anna"
    )  # fmt: skip
    assert sandbox.state("woocommerce", sandbox_account)


def test_from_v1_the_button_below_the_form_starts_the_run(log_in, shop, resync_worker):
    page = log_in(browser_user("bartek"))
    page.goto("/v1/konfiguracja/ogolne/integracje/")
    sidebar = page.locator(".v1-sidebar").text_content()
    assert "Konfiguracja" in sidebar and "Ogólne" in sidebar
    page.click(".v1-sidebar >> text=Integracje")
    page.click(f"a[href='/v1/konfiguracja/ogolne/integracje/{shop.pk}/']")
    button = page.locator(".v1-bottom-actions >> text=Resynchronizuj oferty")
    form_bottom = page.locator(".v1-box form").bounding_box()
    assert button.bounding_box()["y"] > form_bottom["y"] + form_bottom["height"]
    button.click()
    confirm_the_warning(page)
    watch_until_completed(page, resync_worker)
    assert ResyncRun.objects.get().source == "v1"


def test_from_the_admin_action_the_run_shows_its_progress(log_in, shop, resync_worker):
    page = log_in(browser_user("boss", superuser=True))
    page.goto("/admin/integrations/integration/")
    page.check(f"input[name=_selected_action][value='{shop.pk}']")
    page.select_option("select[name=action]", "resync_offers")
    with page.expect_navigation():
        page.click("button[name=index]")
    confirm_the_warning(page)
    assert "możesz zamknąć przeglądarkę" in page.locator(".messagelist").inner_text()
    run = ResyncRun.objects.get()
    assert run.source == "admin"
    page.goto(f"/admin/integrations/resyncrun/{run.pk}/change/")
    watch_until_completed(page, resync_worker)


def test_cancel_stops_a_run(log_in, sandbox, sandbox_account, resync_worker):
    # 1,500 offers in chunks of 500, one batch of 100 every 2 s: each chunk takes ~10 s.
    woo = sandbox_integration(
        sandbox, sandbox_account, "woocommerce", name="Duży sklep", requests_per_minute=30
    )
    make_offers(woo, 1500, photos=0)
    sandbox.configure("woocommerce", sandbox_account, latency_ms=100)
    page = log_in(browser_user("celina"))
    page.goto(f"/integrations/{woo.pk}/resync/")
    with page.expect_navigation():
        page.click("text=Tak, uruchom resynchronizację")
    page.wait_for_selector(".resync-panel [data-status=running]")
    page.once("dialog", lambda dialog: dialog.accept())  # "Anulować tę resynchronizację?"
    with page.expect_navigation():
        page.click("[data-cancel-button]")
    assert "Zlecono anulowanie" in page.locator(".messages").inner_text()
    page.wait_for_selector(
        ".resync-panel[data-active=false] [data-status=cancelled]", state="attached"
    )
    run = ResyncRun.objects.get()
    assert run.status == "cancelled"
    assert run.processed < 1500
    assert page.locator("[data-cancel-button]").count() == 0


def test_without_the_permission_no_button_and_a_forged_post_is_refused(log_in, shop):
    ResyncRun.objects.create(integration=shop, source="cli", status="completed", total=30)
    page = log_in(browser_user("dorota", resync=False))
    for url in (f"/integrations/{shop.pk}/", f"/v1/konfiguracja/ogolne/integracje/{shop.pk}/"):
        page.goto(url)
        assert page.locator(".resync-panel").count() == 1  # status is visible …
        assert page.locator("text=Resynchronizuj oferty").count() == 0  # … the button is not
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"/integrations/{shop.pk}/resync/",
        headers={"X-CSRFToken": token, "Referer": page.url},
    )
    assert response.status == 403
    assert ResyncRun.objects.count() == 1
