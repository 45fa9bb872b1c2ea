"""The seller's view in Chromium at desktop (1280 px) and phone (390 px) widths: honest outcomes,
the history, safe controls, the run page (failures, export, plot), channel-specific forms, and
no sideways scrolling anywhere.

Set XSALE_SCREENSHOTS=docs to refresh the README's screenshots while the tests run.
"""

import csv
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import ResyncFailure, ResyncRun, WorkerPresence
from integrations.services import runs as resync
from offers.models import Offer, OfferChannel, SiteJournal
from tests.catalogue import make_offers, sandbox_integration
from tests.seller_browser import (
    DESKTOP,
    PHONE,
    assert_no_sideways_scroll,
    browser_marks,
    browser_user,
    screenshot,
    screenshot_of,
)

pytestmark = browser_marks


def failed_run_with_samples(integration, failures=120):
    offers = Offer.objects.bulk_create(
        Offer(sku=f"F-{n:04}", name=f"Talerz {n}", price="9.99") for n in range(failures)
    )
    OfferChannel.objects.bulk_create(
        OfferChannel(offer=o, integration=integration, external_id=str(o.pk)) for o in offers
    )
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=40)
    minute = int(start.timestamp())
    # 25 minutes at ~400 offers a minute, a 6-minute pause (a spent hourly budget), then the rest.
    samples = [[minute + 60 * n, 380 + (n * 37) % 60] for n in range(25)]
    samples += [[minute + 60 * n, 390] for n in range(31, 37)]
    total = sum(count for _, count in samples)
    run = ResyncRun.objects.create(
        integration=integration, source="v2", status="completed", total=total, processed=total,
        sent=total - failures, failed=failures, photos_sent=total - failures,
        photo_files_sent=3 * (total - failures), started_at=start,
        finished_at=start + timedelta(minutes=37), samples=samples,
        pauses=[[minute + 25 * 60, minute + 31 * 60]],  # the engine records its pauses
    )  # fmt: skip
    reasons = [
        (422, "invalid_ean", "Nieprawidłowy kod EAN (suma kontrolna)."),
        (400, "price_too_low", "Cena jest niższa niż minimalna dla kategorii."),
        (409, "locked", "Oferta jest właśnie edytowana w innym miejscu."),
    ]
    ResyncFailure.objects.bulk_create(
        ResyncFailure(
            run=run, offer=o, http_status=reasons[0 if n < 70 else 1 if n < 105 else 2][0],
            code=reasons[0 if n < 70 else 1 if n < 105 else 2][1],
            message=reasons[0 if n < 70 else 1 if n < 105 else 2][2],
        )
        for n, o in enumerate(offers)
    )  # fmt: skip
    return run


@pytest.fixture
def shop(sandbox, sandbox_account):
    integration = sandbox_integration(
        sandbox, sandbox_account, "woocommerce", name="Sklep Woo", requests_per_minute=60
    )
    make_offers(integration, 30, photos=1)
    return integration


# --- An honest outcome, and the history right after the first run ------------------------------


def test_a_run_with_failures_ends_amber_and_the_history_agrees(
    signed_in, shop, resync_worker, sandbox, sandbox_account, width
):
    sandbox.configure(
        "woocommerce", sandbox_account, latency_ms=2500, reject_name_pattern=r"testowa [12]$"
    )
    # The worker is running: its sign of life, as the resync cluster's sweeper writes it.
    WorkerPresence.objects.create(name="resync@test", cluster="resync", seen_at=timezone.now())
    page = signed_in(browser_user(f"anna{width}"), width)
    page.goto(f"/integrations/{shop.pk}/")
    assert "nie była jeszcze resynchronizowana" in page.inner_text(".resync-history")
    page.click(".page-head .actions >> text=Resynchronizuj oferty")
    with page.expect_navigation():
        page.click("text=Tak, uruchom resynchronizację")
    # While it runs the start button is a link to the progress.
    assert page.locator("[data-resync-active]").inner_text() == (
        "Trwa resynchronizacja — zobacz postęp"
    )
    try:
        page.wait_for_selector(
            ".resync-panel[data-active=false] [data-status=completed_with_errors]",
            state="attached",
        )
    except Exception:
        raise AssertionError(resync_worker.output()[-3000:]) from None
    badge = page.locator(".resync-panel [data-status=completed_with_errors]")
    assert badge.inner_text() == "zakończona z błędami"
    color = badge.evaluate("el => getComputedStyle(el).color")
    assert color == "rgb(138, 75, 0)"  # amber, not the clean green
    assert "is-bad" in page.locator("[data-failed-stat]").get_attribute("class")
    assert page.locator(".resync-panel [data-field=failed]").inner_text() == "2"
    run = ResyncRun.objects.get()
    shown_photos = page.locator(".resync-panel [data-field=photo_files_sent]").inner_text()
    assert shown_photos == str(run.photo_files_sent)
    assert page.locator("[data-field=finished_display]").inner_text() != "—"
    # The history lists this very run with the same outcome.
    history = page.locator(".resync-history")
    assert "nie była jeszcze" not in history.inner_text()
    row = history.locator(f"tr[data-run='{run.pk}']")
    assert row.locator(".status").inner_text() == "zakończona z błędami"
    assert page.locator(".failure-groups tr[data-group]").count() >= 1
    assert page.locator("[data-health-line]").count() == 0
    assert_no_sideways_scroll(page)
    screenshot(page, f"v2-run-with-errors-{width}")


# --- Safe controls ------------------------------------------------------------------------------


def test_start_is_blocked_while_a_run_is_active(signed_in, shop, width):
    ResyncRun.objects.create(
        integration=shop, source="v2", status="running", total=30, processed=12, sent=12,
        started_at=timezone.now() - timedelta(seconds=30),
    )  # fmt: skip
    page = signed_in(browser_user(f"bartek{width}"), width)
    for url in (f"/integrations/{shop.pk}/", f"/v1/konfiguracja/ogolne/integracje/{shop.pk}/"):
        page.goto(url)
        assert page.locator("text=Resynchronizuj oferty").count() == 0
        link = page.locator("[data-resync-active]")
        link.click()
        assert page.url.endswith("#resync-panel")
        assert_no_sideways_scroll(page)
    page.goto(f"/integrations/{shop.pk}/resync/")
    assert "już trwa" in page.inner_text("[data-already-running]")
    assert page.locator("text=Tak, uruchom resynchronizację").count() == 0
    assert_no_sideways_scroll(page)
    if width == DESKTOP:
        screenshot(page, "v2-resync-confirm-blocked")


def test_cancel_asks_first_shows_cancelling_and_a_cancelled_run_can_be_resumed(
    signed_in, shop, width
):
    # A task works on it (holds its lease), so a cancel is asked, not done at once.
    run = ResyncRun.objects.create(
        integration=shop, source="v2", status="running", total=30, processed=12, sent=12,
        cursor=12, started_at=timezone.now() - timedelta(seconds=30), lease_token="t",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    page = signed_in(browser_user(f"celina{width}"), width)
    page.goto(f"/integrations/{shop.pk}/")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.click("[data-cancel-button]")
    page.wait_for_timeout(300)
    assert questions and "Anulować tę resynchronizację?" in questions[0]
    run.refresh_from_db()
    assert run.status == "running"  # dismissed: nothing asked
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("[data-cancel-button]")
    assert "Zlecono anulowanie" in page.inner_text(".messages")
    button = page.locator("[data-cancel-button]")
    assert button.is_disabled() and button.inner_text() == "anulowanie…"
    assert page.locator(".resync-panel .status").inner_text() == "anulowanie…"
    # The engine sees the flag and stops; the page notices and offers to resume.
    ResyncRun.objects.filter(pk=run.pk).update(status="cancelled", finished_at=timezone.now())
    page.wait_for_selector(".resync-panel[data-active=false] [data-status=cancelled]")
    assert page.locator("[data-resume-button]").inner_text() == "Wznów"
    assert_no_sideways_scroll(page)
    if not hasattr(resync, "resume_resync"):
        pytest.skip("resync.resume_resync lands with the engine work")
    with page.expect_navigation():
        page.click("[data-resume-button]")
    assert page.locator(".resync-panel").get_attribute("data-active") == "true"


def test_the_admin_change_page_cancels_with_a_confirmation(signed_in, shop):
    run = ResyncRun.objects.create(
        integration=shop, source="v2", status="running", total=30, lease_token="t",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    page = signed_in(browser_user("szef", superuser=True))
    page.goto(f"/admin/integrations/integration/{shop.pk}/change/")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("[data-cancel-button]")
    run.refresh_from_db()
    assert run.status == "cancelling"


# --- The run's page: failures grouped, paged, exported; the plot --------------------------------


def test_failures_are_grouped_paged_and_exported_and_the_plot_is_there(
    signed_in, shop, width, tmp_path
):
    shop.requests_per_minute = 5  # a limit of 500 offers a minute, near the run's pace
    shop.save()
    run = failed_run_with_samples(shop)
    page = signed_in(browser_user(f"dorota{width}"), width)
    page.goto(f"/integrations/{shop.pk}/")
    with page.expect_navigation():
        page.click("[data-all-failures]")
    assert page.url.endswith(f"/integrations/{shop.pk}/runs/{run.pk}/")
    groups = page.locator(".failure-groups tr[data-group]")
    assert groups.count() == 3
    assert groups.first.inner_text().startswith("70")
    assert "Nieprawidłowy kod EAN" in groups.first.inner_text()
    rows = page.locator(".failure-list tr[data-failure]")
    assert rows.count() == 50
    assert rows.first.locator("a").inner_text() == "F-0000"
    # SKUs open the offer page (issue 20.7; they opened the Django admin before).
    assert rows.first.locator("a").get_attribute("href").startswith("/offers/")
    # The plot: bars, a pause and the channel's limit, drawn by the server.
    plot = page.locator("[data-plot] svg")
    assert plot.is_visible()
    # A bar per minute (0 in the pause's), the pause one band under them.
    assert page.locator("[data-plot] rect.plot-bar").count() == 37
    assert page.locator("[data-plot] rect.plot-pause").count() == 1
    assert page.locator("[data-plot] line.plot-limit").count() == 1
    assert_no_sideways_scroll(page)
    screenshot(page, f"v2-run-page-{width}")
    with page.expect_navigation():
        page.click("nav.pager >> text=Dalej")
    assert page.locator(".failure-list tr[data-failure] a").first.inner_text() == "F-0050"
    with page.expect_download() as download:
        page.click("[data-csv-export]")
    path = tmp_path / "failures.csv"
    download.value.save_as(path)
    lines = list(csv.reader(path.open(encoding="utf-8-sig"), delimiter=";"))
    assert len(lines) == 121 and lines[0][0] == "sku"
    # One reason group: only its offers.
    with page.expect_navigation():
        page.locator(".failure-groups tr[data-group]").nth(2).locator("a").click()
    assert page.locator(".failure-list tr[data-failure]").count() == 15
    # The V1 layout has the same page.
    page.goto(f"/v1/konfiguracja/ogolne/integracje/{shop.pk}/runs/{run.pk}/")
    assert page.locator("[data-plot] svg").is_visible()
    assert_no_sideways_scroll(page)
    if width == DESKTOP:
        screenshot(page, "v1-run-page")


# --- The form: only the chosen channel's fields -------------------------------------------------


def test_the_form_shows_only_the_chosen_channels_fields(signed_in, shop, width):
    page = signed_in(browser_user(f"ewa{width}", superuser=True), width)
    for url in (
        f"/integrations/{shop.pk}/",
        f"/v1/konfiguracja/ogolne/integracje/{shop.pk}/",
        f"/admin/integrations/integration/{shop.pk}/change/",
    ):
        page.goto(url)
        assert page.locator("input[name=secret_consumer_key]").is_visible()
        assert not page.locator("input[name=upload_url]").is_visible()
        assert not page.locator("input[name=secret_client_id]").is_visible()
        page.select_option("select[name=channel]", "allegro")
        assert page.locator("input[name=upload_url]").is_visible()
        assert page.locator("input[name=secret_refresh_token]").is_visible()
        assert not page.locator("input[name=secret_consumer_key]").is_visible()
        page.select_option("select[name=channel]", "zalando")
        assert page.locator("input[name=secret_merchant_id]").is_visible()
        assert not page.locator("input[name=upload_url]").is_visible()
        if "/admin/" not in url:
            assert_no_sideways_scroll(page)
        page.select_option("select[name=channel]", "woocommerce")
        agreed = page.locator("input[name=higher_limit_agreed]")
        assert not agreed.is_visible()
        page.fill("input[name=requests_per_minute]", "120")  # WooCommerce publishes 60
        assert agreed.is_visible()
        page.fill("input[name=requests_per_minute]", "60")
    page.goto(f"/integrations/{shop.pk}/")
    if width == DESKTOP:
        screenshot_of(page.locator(".form-card"), "v2-integration-form")


# --- No page scrolls sideways -------------------------------------------------------------------


def test_no_page_scrolls_sideways(signed_in, shop, width):
    shop.requests_per_minute = 5
    shop.save()
    run = failed_run_with_samples(shop, failures=60)
    SiteJournal.objects.bulk_create(
        SiteJournal(
            offer=offer, integration=shop, synced_at=timezone.now(), status="ok",
            price_sent=offer.price, currency_sent="PLN", stock_sent=offer.stock,
            message="Bardzo długi komunikat kanału, który nie powinien rozpychać strony " * 2,
        )
        for offer in Offer.objects.filter(sku__startswith="T")
    )  # fmt: skip
    page = signed_in(browser_user(f"fryderyk{width}"), width)
    v1 = "/v1/konfiguracja/ogolne/integracje/"
    for url in (
        "/integrations/",
        f"/integrations/{shop.pk}/",
        f"/integrations/{shop.pk}/resync/",
        f"/integrations/{shop.pk}/runs/{run.pk}/",
        "/sync-log/",
        "/sync-log/?date_from=2026-05-10&date_to=2026-05-01&currency=zz1",
        v1,
        f"{v1}{shop.pk}/",
        f"{v1}{shop.pk}/resync/",
        f"{v1}{shop.pk}/runs/{run.pk}/",
    ):
        page.goto(url)
        assert_no_sideways_scroll(page)
    if width == PHONE:
        page.goto(f"/integrations/{shop.pk}/runs/{run.pk}/")
        screenshot(page, "phone-run-page")
        page.goto(f"/integrations/{shop.pk}/")
        screenshot(page, "phone-integration")
        page.goto(f"{v1}{shop.pk}/")
        screenshot(page, "phone-v1-integration")
    else:
        page.goto("/sync-log/?date_from=2026-05-10&date_to=2026-05-01&currency=zz1")
        assert "Data końcowa jest wcześniejsza" in page.content()
        screenshot(page, "v2-sync-log-errors")
